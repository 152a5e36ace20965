package autograd

import "testing"

func add[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] { return Add(tp, in[0], in[1]) }

var _ = addGradCases(
	newCase(opAdd, "same shape", struct{}{}, add[float64], add[float32], arg(3, 4), arg(3, 4)),
	newCase(opAdd, "row vector", struct{}{}, add[float64], add[float32], arg(2, 3, 4), arg(4)),
	newCase(opAdd, "both broadcast", struct{}{}, add[float64], add[float32], arg(2, 1, 4), arg(3, 1)),
	newCase(opAdd, "scalar", struct{}{}, add[float64], add[float32], arg(1), arg(2, 3)),
	newCase(opAdd, "constant operand", struct{}{}, add[float64], add[float32], arg(3, 4), constArg(3, 4)),
)

func TestAddGradients(t *testing.T) { runGradCases(t, opAdd) }

func TestAddBroadcastValues(t *testing.T) {
	tp := &Tape[float64]{}
	a, _ := NewTensor([]float64{1, 2, 3, 4, 5, 6}, 2, 1, 3)
	b, _ := NewTensor([]float64{10, 20}, 2, 1)
	out := Add(tp, a, b)
	want := []float64{11, 12, 13, 21, 22, 23, 14, 15, 16, 24, 25, 26}
	if tp.Err() != nil || len(out.Data) != len(want) {
		t.Fatalf("err %v, out %v", tp.Err(), out)
	}
	for i := range want {
		if out.Data[i] != want[i] {
			t.Fatalf("out = %v, want %v", out.Data, want)
		}
	}
	if c := Add(tp, a, b); c == nil {
		t.Fatal("second Add failed")
	}
	bad, _ := NewTensor[float64](nil, 3, 2)
	if Add(tp, a, bad) != nil || tp.Err() == nil {
		t.Fatal("shapes [2 1 3] and [3 2] broadcast")
	}
}
