package autograd

import "github.com/mcompress/mcompress/internal/parallel"

// Mul returns the elementwise product a ∘ b with NumPy broadcasting (see Add).
func Mul[T Float](tp *Tape[T], a, b *Tensor[T]) *Tensor[T] {
	shape, ok := tp.validate(opMul, nil, a, b)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	if sameShape(a.Shape, b.Shape, shape) {
		parallel.Range(tp.threads(), len(out.Data), elemChunk, func(_, lo, hi int) {
			x, y, o := a.Data[lo:hi], b.Data[lo:hi], out.Data[lo:hi]
			for i := range o {
				o[i] = x[i] * y[i]
			}
		})
	} else {
		newBcast(a.Shape, b.Shape, shape).each(func(o, ia, ib, n, inca, incb int) {
			for i := 0; i < n; i++ {
				out.Data[o+i] = a.Data[ia+i*inca] * b.Data[ib+i*incb]
			}
		})
	}
	tp.record(opMul, &mulOp[T]{a: a, b: b}, out, a, b)
	return out
}

// mulOp is a recorded Mul.
type mulOp[T Float] struct{ a, b *Tensor[T] }

func (op *mulOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	g := out.Grad
	// d loss / d a = g ∘ b (summed over a's broadcast dimensions), and symmetrically for b.
	for _, pair := range [2][2]*Tensor[T]{{op.a, op.b}, {op.b, op.a}} {
		in, other := pair[0], pair[1]
		d := tp.grad(in)
		if d == nil {
			continue
		}
		if sameShape(in.Shape, other.Shape, out.Shape) {
			parallel.Range(tp.threads(), len(d), elemChunk, func(_, lo, hi int) {
				dd, gg, oo := d[lo:hi], g[lo:hi], other.Data[lo:hi]
				for i := range dd {
					dd[i] += gg[i] * oo[i]
				}
			})
			continue
		}
		newBcast(in.Shape, other.Shape, out.Shape).each(func(o, ia, ib, n, inca, incb int) {
			for i := 0; i < n; i++ {
				d[ia+i*inca] += g[o+i] * other.Data[ib+i*incb]
			}
		})
	}
}
