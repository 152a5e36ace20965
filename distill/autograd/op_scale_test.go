package autograd

import (
	"math"
	"testing"
)

func scale[T Float](c float64, tp *Tape[T], in []*Tensor[T]) *Tensor[T] { return Scale(tp, in[0], c) }

var _ = addGradCases(
	newCase(opScale, "positive", 2.5, scale[float64], scale[float32], arg(3, 4)),
	newCase(opScale, "negative", -0.5, scale[float64], scale[float32], arg(7)),
)

func TestScaleGradients(t *testing.T) { runGradCases(t, opScale) }

func TestScaleRejectsNonFinite(t *testing.T) {
	tp := &Tape[float32]{}
	x, _ := NewTensor[float32](nil, 2)
	if Scale(tp, x, math.Inf(1)) != nil || tp.Err() == nil {
		t.Fatal("Scale by +Inf accepted")
	}
}
