package autograd

import (
	"slices"

	"github.com/mcompress/mcompress/internal/parallel"
)

// Add returns a + b with NumPy broadcasting: shapes are aligned from the right and each pair
// of dimensions must be equal or one of them 1.
func Add[T Float](tp *Tape[T], a, b *Tensor[T]) *Tensor[T] {
	shape, ok := tp.validate(opAdd, nil, a, b)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	if sameShape(a.Shape, b.Shape, shape) {
		parallel.Range(tp.threads(), len(out.Data), elemChunk, func(_, lo, hi int) {
			x, y, o := a.Data[lo:hi], b.Data[lo:hi], out.Data[lo:hi]
			for i := range o {
				o[i] = x[i] + y[i]
			}
		})
	} else {
		newBcast(a.Shape, b.Shape, shape).each(func(o, ia, ib, n, inca, incb int) {
			for i := 0; i < n; i++ {
				out.Data[o+i] = a.Data[ia+i*inca] + b.Data[ib+i*incb]
			}
		})
	}
	tp.record(opAdd, &addOp[T]{a: a, b: b}, out, a, b)
	return out
}

// addOp is a recorded Add.
type addOp[T Float] struct{ a, b *Tensor[T] }

func (op *addOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	for _, in := range []*Tensor[T]{op.a, op.b} {
		d := tp.grad(in)
		if d == nil {
			continue
		}
		if slices.Equal(in.Shape, out.Shape) {
			addInto(tp, d, out.Grad)
			continue
		}
		// Sum the gradient over the broadcast dimensions, serially in output order.
		bc := newBcast(in.Shape, in.Shape, out.Shape)
		g := out.Grad
		bc.each(func(o, ia, _, n, inca, _ int) {
			for i := 0; i < n; i++ {
				d[ia+i*inca] += g[o+i]
			}
		})
	}
}

// addInto adds src into dst elementwise, in parallel chunks.
func addInto[T Float](tp *Tape[T], dst, src []T) {
	parallel.Range(tp.threads(), len(dst), elemChunk, func(_, lo, hi int) {
		d, s := dst[lo:hi], src[lo:hi]
		for i := range d {
			d[i] += s[i]
		}
	})
}
