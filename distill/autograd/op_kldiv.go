package autograd

import (
	"math"
	"slices"

	"github.com/mcompress/mcompress/internal/parallel"
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
	op := &klDivOp[T]{s: student, opts: opts, rows: rows, v: v}
	if !tp.NoGrad {
		op.dir = tp.buf(rows*v, false)
	}
	kls := make([]float64, rows)
	inv := 1 / opts.Temperature
	threads := tp.threads()
	scratch := tp.buf(2*threads*v, false)
	parallel.Range(threads, rows, rowChunk(v), func(w, lo, hi int) {
		ps, pt := scratch[2*w*v:(2*w+1)*v], scratch[(2*w+1)*v:(2*w+2)*v]
		for r := lo; r < hi; r++ {
			if op.ignored(r) {
				continue
			}
			zs, zt := student.Data[r*v:(r+1)*v], teacher.Data[r*v:(r+1)*v]
			ls := softmaxInto(ps, zs, inv)
			lt := softmaxInto(pt, zt, inv)
			kl := 0.0
			for j := range zs {
				lps, lpt := float64(zs[j])*inv-ls, float64(zt[j])*inv-lt
				if opts.Reverse {
					if ps[j] != 0 {
						kl += float64(ps[j]) * (lps - lpt)
					}
				} else if pt[j] != 0 {
					kl += float64(pt[j]) * (lpt - lps)
				}
			}
			kls[r] = kl
			if op.dir == nil {
				continue
			}
			// Keep the gradient up to its scale.
			d := op.dir[r*v : (r+1)*v]
			for j := range d {
				if opts.Reverse {
					g := 0.0
					if ps[j] != 0 {
						g = float64(ps[j]) * (float64(zs[j])*inv - ls - (float64(zt[j])*inv - lt) - kl)
					}
					d[j] = T(g)
				} else {
					d[j] = ps[j] - pt[j]
				}
			}
		}
	})
	s := 0.0
	for r, kl := range kls {
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

// softmaxInto writes softmax(scale·z) into p and returns logsumexp(scale·z) (scale > 0).
func softmaxInto[T Float](p, z []T, scale float64) float64 {
	m := rowMax(z) * scale
	s := expShift(p, z, scale, m)
	inv := T(1 / s)
	for j := range p {
		p[j] *= inv
	}
	return m + math.Log(s)
}

// klDivOp is a recorded KLDiv; it keeps the gradient of every row up to its scale.
type klDivOp[T Float] struct {
	s       *Tensor[T]
	opts    KLDivOptions
	rows, v int
	dir     []T
	count   int
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
	k := T(float64(out.Grad[0]) / float64(op.count) / op.opts.Temperature)
	parallel.Range(tp.threads(), op.rows, rowChunk(v), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			if op.ignored(r) {
				continue
			}
			d := ds[r*v : (r+1)*v]
			for j, x := range op.dir[r*v : (r+1)*v] {
				d[j] += k * x
			}
		}
	})
}
