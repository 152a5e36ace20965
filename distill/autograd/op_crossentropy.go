package autograd

import "slices"

// CrossEntropy returns the mean over rows of −log softmax(logits[r])[targets[r]]: the
// next-token loss. logits is [..., vocab] read as rows of its last dimension, one target per
// row. Rows whose target equals ignoreIndex (PyTorch uses −100) are left out of the sum and of
// the count; every other target must be in [0, vocab). When every row is ignored the loss and
// its gradient are 0.
func CrossEntropy[T Float](tp *Tape[T], logits *Tensor[T], targets []int32, ignoreIndex int32) *Tensor[T] {
	targets = slices.Clone(targets)
	shape, ok := tp.validate(opCrossEntropy, crossEntropyAttr{targets, ignoreIndex}, logits)
	if !ok {
		return nil
	}
	rows, v := rowsOf(logits.Shape)
	op := &crossEntropyOp[T]{logits: logits, targets: targets, ignore: ignoreIndex, rows: rows, v: v}
	op.lse = make([]float64, rows)
	loss := make([]float64, rows)
	exp := expFunc[T]()
	parallelRange(tp.threads(), rows, rowChunk(v), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			t := targets[r]
			if t == ignoreIndex {
				continue
			}
			z := logits.Data[r*v : (r+1)*v]
			op.lse[r] = logSumExp(z, 1, exp)
			loss[r] = op.lse[r] - float64(z[t])
		}
	})
	s := 0.0
	for r, l := range loss {
		if targets[r] != ignoreIndex {
			s += l
			op.count++
		}
	}
	out := tp.newTensor(shape, false)
	out.Data[0] = 0
	if op.count > 0 {
		out.Data[0] = T(s / float64(op.count))
	}
	tp.record(opCrossEntropy, op, out, logits)
	return out
}

// crossEntropyOp is a recorded CrossEntropy; it keeps the log-sum-exp of every row.
type crossEntropyOp[T Float] struct {
	logits  *Tensor[T]
	targets []int32
	ignore  int32
	rows, v int
	lse     []float64
	count   int
}

// backward: d logits[r] = g/count · (softmax(logits[r]) − onehot(target[r])).
func (op *crossEntropyOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	if op.count == 0 {
		return
	}
	dx := tp.grad(op.logits)
	v := op.v
	k := float64(out.Grad[0]) / float64(op.count)
	exp := expFunc[T]()
	parallelRange(tp.threads(), op.rows, rowChunk(v), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			t := op.targets[r]
			if t == op.ignore {
				continue
			}
			z, d := op.logits.Data[r*v:(r+1)*v], dx[r*v:(r+1)*v]
			l := op.lse[r]
			for j, x := range z {
				d[j] += T(k * exp(float64(x)-l))
			}
			d[t] -= T(k)
		}
	})
}
