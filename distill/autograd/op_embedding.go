package autograd

import (
	"slices"

	"github.com/mcompress/mcompress/internal/parallel"
)

// Embedding returns the rows of table (shape [vocab, dim]) selected by ids, as a [len(ids),
// dim] tensor. Every id must be in [0, vocab). The gradient scatter-adds into the selected rows
// (repeated ids accumulate in id order); rows of ids that do not occur receive exactly 0.
func Embedding[T Float](tp *Tape[T], table *Tensor[T], ids []int32) *Tensor[T] {
	ids = slices.Clone(ids) // the backward pass must see the ids of the forward pass
	shape, ok := tp.validate(opEmbedding, embeddingAttr{ids}, table)
	if !ok {
		return nil
	}
	out := tp.newTensor(shape, false)
	c := shape[1]
	parallel.Range(tp.threads(), len(ids), rowChunk(c), func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			id := int(ids[r])
			copy(out.Data[r*c:(r+1)*c], table.Data[id*c:(id+1)*c])
		}
	})
	tp.record(opEmbedding, &embeddingOp[T]{table: table, ids: ids}, out, table)
	return out
}

// embeddingOp is a recorded Embedding.
type embeddingOp[T Float] struct {
	table *Tensor[T]
	ids   []int32
}

func (op *embeddingOp[T]) backward(tp *Tape[T], out *Tensor[T]) {
	d := tp.grad(op.table)
	c := out.Shape[1]
	// Serial in id order: several rows may hit the same table row.
	for r, id := range op.ids {
		dst := d[int(id)*c : int(id+1)*c]
		for j, g := range out.Grad[r*c : (r+1)*c] {
			dst[j] += g
		}
	}
}
