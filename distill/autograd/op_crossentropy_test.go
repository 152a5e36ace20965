package autograd

import (
	"math"
	"testing"
)

type ceArgs struct {
	targets []int32
	ignore  int32
}

func crossEntropy[T Float](a ceArgs, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return CrossEntropy(tp, in[0], a.targets, a.ignore)
}

var _ = addGradCases(
	newCase(opCrossEntropy, "all rows", ceArgs{[]int32{2, 0, 4, 4}, -100}, crossEntropy[float64], crossEntropy[float32],
		inSpec{shape: []int{4, 5}, grad: true, scale: 3}),
	newCase(opCrossEntropy, "ignore index", ceArgs{[]int32{1, -1, 0, -1, 2}, -1}, crossEntropy[float64], crossEntropy[float32],
		inSpec{shape: []int{5, 3}, grad: true, scale: 3}),
	newCase(opCrossEntropy, "3d logits", ceArgs{[]int32{0, 1, 2, 3, 3, 2}, -100}, crossEntropy[float64], crossEntropy[float32],
		arg(2, 3, 4)),
)

func TestCrossEntropyGradients(t *testing.T) { runGradCases(t, opCrossEntropy) }

func TestCrossEntropyValues(t *testing.T) {
	tp := &Tape[float64]{}
	z, _ := NewParam("z", []float64{1, 2, 3, 0, 0, 0, 5, 5, 5}, 3, 3)
	loss := CrossEntropy(tp, z, []int32{2, -100, 0}, -100)
	l0 := math.Log(math.Exp(1)+math.Exp(2)+math.Exp(3)) - 3
	l2 := math.Log(3)
	if want := (l0 + l2) / 2; math.Abs(loss.Item()-want) > 1e-14 {
		t.Fatalf("loss = %v, want %v", loss.Item(), want)
	}
	if err := tp.Backward(loss); err != nil {
		t.Fatal(err)
	}
	for j := 3; j < 6; j++ {
		if z.Grad[j] != 0 {
			t.Fatalf("ignored row got gradient %v", z.Grad[3:6])
		}
	}
	// Every row ignored: loss 0, gradient 0.
	tp.Reset()
	z.ZeroGrad()
	loss = CrossEntropy(tp, z, []int32{-100, -100, -100}, -100)
	if loss.Item() != 0 || tp.Backward(loss) != nil {
		t.Fatalf("all-ignored loss = %v, err %v", loss.Item(), tp.Err())
	}
	for _, g := range z.Grad {
		if g != 0 {
			t.Fatal("all-ignored loss has a gradient")
		}
	}
	if CrossEntropy(tp, z, []int32{0, 3, 0}, -100) != nil || tp.Err() == nil {
		t.Fatal("target 3 accepted for 3 classes")
	}
}
