package autograd

import "testing"

func sum[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T]  { return Sum(tp, in[0]) }
func mean[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] { return Mean(tp, in[0]) }

var _ = addGradCases(
	newCase(opSum, "matrix", struct{}{}, sum[float64], sum[float32], arg(3, 4)),
	newCase(opMean, "matrix", struct{}{}, mean[float64], mean[float32], arg(3, 4)),
	newCase(opMean, "3d", struct{}{}, mean[float64], mean[float32], arg(2, 3, 2)),
)

func TestSumGradients(t *testing.T)  { runGradCases(t, opSum) }
func TestMeanGradients(t *testing.T) { runGradCases(t, opMean) }

func TestSumMeanValues(t *testing.T) {
	tp := &Tape[float64]{}
	x, _ := NewTensor([]float64{1, 2, 3, 4}, 2, 2)
	if s := Sum(tp, x); s.Item() != 10 || len(s.Shape) != 0 {
		t.Errorf("Sum = %v %v, want 10 []", s.Item(), s.Shape)
	}
	if m := Mean(tp, x); m.Item() != 2.5 {
		t.Errorf("Mean = %v, want 2.5", m.Item())
	}
	e, _ := NewTensor[float64](nil, 0, 3)
	if m := Mean(tp, e); m == nil || m.Item() != 0 {
		t.Errorf("Mean of empty = %v, want 0", m)
	}
}
