package autograd

import "github.com/mcompress/mcompress/internal/parallel"

// AddBias returns x + bias, with bias (shape [C]) added to every row of x (shape [..., C]):
// the bias of a linear layer (Qwen2's q/k/v projections).
func AddBias[T Float](tp *Tape[T], x, bias *Tensor[T]) *Tensor[T] {
	shape, ok := tp.validate(opAddBias, nil, x, bias)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	rows, c := rowsOf(shape)
	parallel.Range(tp.threads(), rows, rowChunk(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := x.Data[r*c:(r+1)*c], out.Data[r*c:(r+1)*c]
			for j, v := range src {
				dst[j] = v + bias.Data[j]
			}
		}
	})
	tp.record(opAddBias, &addBiasOp[T]{x: x, bias: bias}, out, x, bias)
	return out
}

// addBiasOp is a recorded AddBias.
type addBiasOp[T Float] struct{ x, bias *Tensor[T] }

func (op *addBiasOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	if dx := tp.grad(op.x); dx != nil {
		addInto(tp, dx, out.Grad)
	}
	if db := tp.grad(op.bias); db != nil {
		rows, c := rowsOf(out.Shape)
		sumRows(tp, db, out.Grad, rows, c)
	}
}

// sumRows adds Σ_r src[r, :] into dst (len c). Rows are summed in fixed chunks whose partial
// sums are combined in order, so the result does not depend on the thread count.
func sumRows[T Float](tp *Tape[T], dst, src []T, rows, c int) {
	const chunk = 64
	nchunks := (rows + chunk - 1) / chunk
	part := make([]float64, nchunks*c)
	parallel.For(tp.threads(), nchunks, func(_, k int) {
		acc := part[k*c : (k+1)*c]
		for r := k * chunk; r < min(rows, (k+1)*chunk); r++ {
			for j, v := range src[r*c : (r+1)*c] {
				acc[j] += float64(v)
			}
		}
	})
	for j := range dst {
		s := 0.0
		for k := 0; k < nchunks; k++ {
			s += part[k*c+j]
		}
		dst[j] += T(s)
	}
}
