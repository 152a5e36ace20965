package autograd

import "testing"

func embed[T Float](ids []int32, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return Embedding(tp, in[0], ids)
}

var _ = addGradCases(
	newCase(opEmbedding, "repeated ids", []int32{1, 4, 1, 0, 4, 4}, embed[float64], embed[float32], arg(6, 3)),
)

func TestEmbeddingGradients(t *testing.T) { runGradCases(t, opEmbedding) }

func TestEmbeddingAbsentRowsGetExactZero(t *testing.T) {
	table, _ := NewParam("emb", []float32{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, 5, 2)
	tp := &Tape[float32]{}
	x := Embedding(tp, table, []int32{3, 1, 3})
	if want := []float32{6, 7, 2, 3, 6, 7}; !equal(x.Data, want) {
		t.Fatalf("lookup = %v, want %v", x.Data, want)
	}
	if err := tp.Backward(Sum(tp, Scale(tp, x, 0.5))); err != nil {
		t.Fatal(err)
	}
	want := []float32{0, 0, 0.5, 0.5, 0, 0, 1, 1, 0, 0}
	if !equal(table.Grad, want) {
		t.Fatalf("grad = %v, want %v", table.Grad, want)
	}
}

func TestEmbeddingRejectsBadIDs(t *testing.T) {
	table, _ := NewTensor[float32](nil, 5, 2)
	for _, ids := range [][]int32{{0, 5}, {-1}} {
		tp := &Tape[float32]{}
		if Embedding(tp, table, ids) != nil || tp.Err() == nil {
			t.Errorf("ids %v accepted for a 5-row table", ids)
		}
	}
}

func equal[T Float](a, b []T) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
