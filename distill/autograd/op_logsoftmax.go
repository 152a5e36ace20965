package autograd

import "github.com/mcompress/mcompress/internal/parallel"

// LogSoftmax returns log softmax over the last dimension of x: x − logsumexp(x) row by row.
func LogSoftmax[T Float](tp *Tape[T], x *Tensor[T]) *Tensor[T] {
	shape, ok := tp.validate(opLogSoftmax, nil, x)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	rows, c := rowsOf(shape)
	parallel.Range(tp.threads(), rows, rowChunk(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := x.Data[r*c:(r+1)*c], out.Data[r*c:(r+1)*c]
			l := logSumExp(src, dst, 1)
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
	threads := tp.threads()
	scratch := tp.buf(threads*c, false)
	parallel.Range(threads, rows, rowChunk(c), func(w, lo, hi int) {
		p := scratch[w*c : (w+1)*c]
		for r := lo; r < hi; r++ {
			y, g, d := out.Data[r*c:(r+1)*c], out.Grad[r*c:(r+1)*c], dx[r*c:(r+1)*c]
			s := 0.0
			for _, v := range g {
				s += float64(v)
			}
			expShift(p, y, 1, 0) // softmax = exp(log softmax)
			for j, pv := range p {
				d[j] += T(float64(g[j]) - float64(pv)*s)
			}
		}
	})
}
