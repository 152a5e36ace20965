package autograd

import (
	"math"

	"github.com/mcompress/mcompress/internal/parallel"
)

// RMSNorm returns weight ∘ x / sqrt(mean(x²) + eps) over the last dimension of x (shape
// [..., C]; weight shape [C]), the normalisation of Llama-family models. Qwen3's per-head q/k
// norm is RMSNorm over x reshaped to [..., heads, headDim].
func RMSNorm[T Float](tp *Tape[T], x, weight *Tensor[T], eps float64) *Tensor[T] {
	shape, ok := tp.validate(opRMSNorm, eps, x, weight)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	rows, c := rowsOf(shape)
	op := &rmsNormOp[T]{x: x, w: weight, rows: rows, c: c}
	if !tp.NoGrad {
		op.rstd = make([]float64, rows)
	}
	parallel.Range(tp.threads(), rows, rowChunk(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			src, dst := x.Data[r*c:(r+1)*c], out.Data[r*c:(r+1)*c]
			ss := 0.0
			for _, v := range src {
				ss += float64(v) * float64(v)
			}
			rstd := 1 / math.Sqrt(ss/float64(c)+eps)
			if op.rstd != nil {
				op.rstd[r] = rstd
			}
			for j, v := range src {
				dst[j] = T(float64(v)*rstd) * weight.Data[j]
			}
		}
	})
	tp.record(opRMSNorm, op, out, x, weight)
	return out
}

// rmsNormOp is a recorded RMSNorm; it keeps 1/rms of every row.
type rmsNormOp[T Float] struct {
	x, w    *Tensor[T]
	rows, c int
	rstd    []float64
}

// backward: with x̂ = x·rstd and y = w∘x̂,
//
//	dx = rstd · (w∘dy − x̂ · mean(x̂ ∘ w∘dy)),   dw = Σ_rows dy∘x̂.
func (op *rmsNormOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	c, w := op.c, op.w.Data
	if dx := tp.grad(op.x); dx != nil {
		parallel.Range(tp.threads(), op.rows, rowChunk(c), func(_, lo, hi int) {
			for r := lo; r < hi; r++ {
				xs, gs, ds := op.x.Data[r*c:(r+1)*c], out.Grad[r*c:(r+1)*c], dx[r*c:(r+1)*c]
				rstd := op.rstd[r]
				dot := 0.0
				for j, v := range xs {
					dot += float64(gs[j]) * float64(w[j]) * float64(v)
				}
				k := dot * rstd * rstd / float64(c)
				for j, v := range xs {
					ds[j] += T(rstd * (float64(gs[j])*float64(w[j]) - float64(v)*k))
				}
			}
		})
	}
	if dw := tp.grad(op.w); dw != nil {
		const chunk = 64
		nchunks := (op.rows + chunk - 1) / chunk
		part := make([]float64, nchunks*c)
		parallel.For(tp.threads(), nchunks, func(_, k int) {
			acc := part[k*c : (k+1)*c]
			for r := k * chunk; r < min(op.rows, (k+1)*chunk); r++ {
				xs, gs := op.x.Data[r*c:(r+1)*c], out.Grad[r*c:(r+1)*c]
				rstd := op.rstd[r]
				for j, v := range xs {
					acc[j] += float64(gs[j]) * float64(v) * rstd
				}
			}
		})
		for j := range dw {
			s := 0.0
			for k := 0; k < nchunks; k++ {
				s += part[k*c+j]
			}
			dw[j] += T(s)
		}
	}
}
