package autograd

import "testing"

func swiglu[T Float](_ struct{}, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return SwiGLU(tp, in[0], in[1])
}

var _ = addGradCases(
	newCase(opSwiGLU, "pair", struct{}{}, swiglu[float64], swiglu[float32], inSpec{shape: []int{4, 6}, grad: true, scale: 4}, arg(4, 6)),
	newCase(opSwiGLU, "constant up", struct{}{}, swiglu[float64], swiglu[float32], arg(3, 2), constArg(3, 2)),
)

func TestSwiGLUGradients(t *testing.T) { runGradCases(t, opSwiGLU) }

// TestSwiGLUMatchesSiLUTimesUp compares the fused op with its unfused composition.
func TestSwiGLUMatchesSiLUTimesUp(t *testing.T) {
	in := makeInputs([]inSpec{{shape: []int{3, 5}, scale: 5}, arg(3, 5)}, 3)
	tp := &Tape[float64]{}
	a := SwiGLU(tp, in[0], in[1])
	b := Mul(tp, SiLU(tp, in[0]), in[1])
	if e := relMax(a.Data, b.Data); e > 1e-15 {
		t.Fatalf("fused and unfused differ by %g", e)
	}
	if SwiGLU(tp, in[0], makeInputs([]inSpec{arg(5, 3)}, 1)[0]) != nil || tp.Err() == nil {
		t.Fatal("shapes [3 5] and [5 3] accepted")
	}
}
