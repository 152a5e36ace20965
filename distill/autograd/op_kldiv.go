package autograd

import (
	"math"
	"slices"
)

// KLDivOptions configures KLDiv. The zero value is forward KL at temperature 1 over all rows.
type KLDivOptions struct {
	// Temperature T divides both sets of logits: p^T = softmax(logits/T). 0 means 1. The
	// customary T² factor of distillation losses is not applied: multiply with Scale.
	Temperature float64
	// Reverse selects KL(p_student ‖ p_teacher) instead of KL(p_teacher ‖ p_student).
	Reverse bool
	// IgnoreRows, when not nil, has one entry per row; rows marked true are left out of the
	// sum and of the count.
	IgnoreRows []bool
}

// KLDiv returns the mean over rows of the Kullback-Leibler divergence between the temperature
// softmax of the teacher's and of the student's logits, summed over the vocabulary:
//
//	forward: Σ_v p_t(v)·(log p_t(v) − log p_s(v)),  reverse: Σ_v p_s(v)·(log p_s(v) − log p_t(v)).
//
// student and teacher have the same shape [..., vocab]. The teacher's logits are constants:
// no gradient flows into them. When every row is ignored the loss and its gradient are 0.
func KLDiv[T Float](tp *Tape[T], student, teacher *Tensor[T], opts KLDivOptions) *Tensor[T] {
	opts.IgnoreRows = slices.Clone(opts.IgnoreRows)
	shape, ok := tp.validate(opKLDiv, opts, student, teacher)
	if !ok {
		return nil
	}
	if opts.Temperature == 0 {
		opts.Temperature = 1
	}
	rows, v := rowsOf(student.Shape)
	op := &klDivOp[T]{s: student, t: teacher, opts: opts, rows: rows, v: v,
		lseS: make([]float64, rows), lseT: make([]float64, rows), kl: make([]float64, rows)}
	inv := 1 / opts.Temperature
	exp := expFunc[T]()
	parallelRange(tp.threads(), rows, rowChunk(v), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			if op.ignored(r) {
				continue
			}
			zs, zt := student.Data[r*v:(r+1)*v], teacher.Data[r*v:(r+1)*v]
			ls, lt := logSumExp(zs, inv, exp), logSumExp(zt, inv, exp)
			op.lseS[r], op.lseT[r] = ls, lt
			kl := 0.0
			for j := range zs {
				lps, lpt := float64(zs[j])*inv-ls, float64(zt[j])*inv-lt
				if opts.Reverse {
					if p := exp(lps); p != 0 {
						kl += p * (lps - lpt)
					}
				} else if p := exp(lpt); p != 0 {
					kl += p * (lpt - lps)
				}
			}
			op.kl[r] = kl
		}
	})
	s := 0.0
	for r, kl := range op.kl {
		if !op.ignored(r) {
			s += kl
			op.count++
		}
	}
	out := tp.newTensor(shape, false)
	out.Data[0] = 0
	if op.count > 0 {
		out.Data[0] = T(s / float64(op.count))
	}
	tp.record(opKLDiv, op, out, student, teacher)
	return out
}

// klDivOp is a recorded KLDiv; it keeps both log-sum-exps and the divergence of every row.
type klDivOp[T Float] struct {
	s, t       *Tensor[T]
	opts       KLDivOptions
	rows, v    int
	lseS, lseT []float64
	kl         []float64
	count      int
}

func (op *klDivOp[T]) ignored(r int) bool { return op.opts.IgnoreRows != nil && op.opts.IgnoreRows[r] }

// backward, with k = g / (count·T):
//
//	forward: d z_s = k·(p_s − p_t);  reverse: d z_s = k·p_s∘(log p_s − log p_t − KL_row).
func (op *klDivOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	if op.count == 0 {
		return
	}
	ds := tp.grad(op.s)
	v := op.v
	inv := 1 / op.opts.Temperature
	k := float64(out.Grad[0]) / float64(op.count) * inv
	exp := expFunc[T]()
	parallelRange(tp.threads(), op.rows, rowChunk(v), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			if op.ignored(r) {
				continue
			}
			zs, zt, d := op.s.Data[r*v:(r+1)*v], op.t.Data[r*v:(r+1)*v], ds[r*v:(r+1)*v]
			ls, lt, kl := op.lseS[r], op.lseT[r], op.kl[r]
			for j := range zs {
				lps, lpt := float64(zs[j])*inv-ls, float64(zt[j])*inv-lt
				ps := exp(lps)
				if op.opts.Reverse {
					if ps != 0 && !math.IsInf(lpt, -1) {
						d[j] += T(k * ps * (lps - lpt - kl))
					}
				} else {
					d[j] += T(k * (ps - exp(lpt)))
				}
			}
		}
	})
}
