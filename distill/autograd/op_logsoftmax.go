package autograd

// LogSoftmax returns log softmax over the last dimension of x: x − logsumexp(x) row by row.
func LogSoftmax[T Float](tp *Tape[T], x *Tensor[T]) *Tensor[T] {
	shape, ok := tp.validate(opLogSoftmax, nil, x)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	rows, c := rowsOf(shape)
	exp := expFunc[T]()
	parallelRange(tp.threads(), rows, rowChunk(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := x.Data[r*c:(r+1)*c], out.Data[r*c:(r+1)*c]
			l := logSumExp(src, 1, exp)
			for j, v := range src {
				dst[j] = T(float64(v) - l)
			}
		}
	})
	tp.record(opLogSoftmax, &logSoftmaxOp[T]{x: x}, out, x)
	return out
}

// logSoftmaxOp is a recorded LogSoftmax; the output (log-probabilities) is all it needs.
type logSoftmaxOp[T Float] struct{ x *Tensor[T] }

// backward: dx = dy − softmax(x)·Σ dy, with softmax = exp(output).
func (op *logSoftmaxOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	dx := tp.grad(op.x)
	rows, c := rowsOf(out.Shape)
	exp := expFunc[T]()
	parallelRange(tp.threads(), rows, rowChunk(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			y, g, d := out.Data[r*c:(r+1)*c], out.Grad[r*c:(r+1)*c], dx[r*c:(r+1)*c]
			s := 0.0
			for _, v := range g {
				s += float64(v)
			}
			for j, v := range y {
				d[j] += T(float64(g[j]) - exp(float64(v))*s)
			}
		}
	})
}
