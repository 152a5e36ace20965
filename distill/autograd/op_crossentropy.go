package autograd

import (
	"math"
	"slices"

	"github.com/mcompress/mcompress/internal/parallel"
)

// IgnoreIndex is the customary ignore index of CrossEntropy targets (PyTorch's default, −100).
const IgnoreIndex int32 = -100

// CrossEntropy returns the mean over rows of −log softmax(logits[r])[targets[r]]: the
// next-token loss. logits is [..., vocab] read as rows of its last dimension, one target per
// row. Rows whose target equals ignoreIndex (usually [IgnoreIndex]) are left out of the sum and of
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
	if !tp.NoGrad {
		op.dir = tp.buf(rows*v, false)
	}
	loss := make([]float64, rows)
	threads := tp.threads()
	var scratch []T
	if op.dir == nil {
		scratch = tp.buf(threads*v, false)
	}
	parallel.Range(threads, rows, rowChunk(v), func(w, lo, hi int) {
		for r := lo; r < hi; r++ {
			t := targets[r]
			if t == ignoreIndex {
				continue
			}
			z := logits.Data[r*v : (r+1)*v]
			if op.dir == nil {
				loss[r] = logSumExp(z, scratch[w*v:(w+1)*v], 1) - float64(z[t])
				continue
			}
			// Keep softmax − onehot, the gradient up to its scale.
			d := op.dir[r*v : (r+1)*v]
			m := rowMax(z)
			s := expShift(d, z, 1, m)
			inv := T(1 / s)
			for j := range d {
				d[j] *= inv
			}
			d[t]--
			loss[r] = m + math.Log(s) - float64(z[t])
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

// crossEntropyOp is a recorded CrossEntropy; it keeps softmax(logits) − onehot(target) of
// every row, so the backward pass is a scaled copy.
type crossEntropyOp[T Float] struct {
	logits  *Tensor[T]
	targets []int32
	ignore  int32
	rows, v int
	dir     []T
	count   int
}

// backward: d logits[r] = g/count · (softmax(logits[r]) − onehot(target[r])).
func (op *crossEntropyOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	if op.count == 0 {
		return
	}
	dx := tp.grad(op.logits)
	v := op.v
	k := T(float64(out.Grad[0]) / float64(op.count))
	parallel.Range(tp.threads(), op.rows, rowChunk(v), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			if op.targets[r] == op.ignore {
				continue
			}
			d := dx[r*v : (r+1)*v]
			for j, x := range op.dir[r*v : (r+1)*v] {
				d[j] += k * x
			}
		}
	})
}
