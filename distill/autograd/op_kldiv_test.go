package autograd

import (
	"math"
	"testing"
)

func klDiv[T Float](o KLDivOptions, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return KLDiv(tp, in[0], in[1], o)
}

var (
	logits  = inSpec{shape: []int{4, 6}, grad: true, scale: 3}
	teacher = inSpec{shape: []int{4, 6}, scale: 3}
)

var _ = addGradCases(
	newCase(opKLDiv, "forward T=2", KLDivOptions{Temperature: 2}, klDiv[float64], klDiv[float32], logits, teacher),
	newCase(opKLDiv, "forward T=1", KLDivOptions{}, klDiv[float64], klDiv[float32], logits, teacher),
	newCase(opKLDiv, "reverse T=1.5", KLDivOptions{Temperature: 1.5, Reverse: true}, klDiv[float64], klDiv[float32], logits, teacher),
	newCase(opKLDiv, "reverse ignore rows", KLDivOptions{Reverse: true, IgnoreRows: []bool{false, true, false, true}},
		klDiv[float64], klDiv[float32], logits, teacher),
)

func TestKLDivGradients(t *testing.T) { runGradCases(t, opKLDiv) }

// TestKLDivValues compares both directions with the definitions evaluated directly.
func TestKLDivValues(t *testing.T) {
	in := makeInputs([]inSpec{logits, teacher}, 5)
	s, te := in[0], in[1]
	for _, o := range []KLDivOptions{{Temperature: 2}, {Temperature: 0.7, Reverse: true}} {
		want := 0.0
		for r := 0; r < 4; r++ {
			ps := softmaxRef(s.Data[r*6:(r+1)*6], o.Temperature)
			pt := softmaxRef(te.Data[r*6:(r+1)*6], o.Temperature)
			for j := range ps {
				if o.Reverse {
					want += ps[j] * math.Log(ps[j]/pt[j])
				} else {
					want += pt[j] * math.Log(pt[j]/ps[j])
				}
			}
		}
		want /= 4
		tp := &Tape[float64]{}
		if got := KLDiv(tp, s, te, o).Item(); math.Abs(got-want) > 1e-13 {
			t.Errorf("%+v: KL = %.15g, want %.15g", o, got, want)
		}
	}
	tp := &Tape[float64]{}
	if KLDiv(tp, s, te, KLDivOptions{IgnoreRows: []bool{true}}) != nil || tp.Err() == nil {
		t.Error("IgnoreRows of the wrong length accepted")
	}
}

func softmaxRef(z []float64, temp float64) []float64 {
	p := make([]float64, len(z))
	s := 0.0
	for i, v := range z {
		p[i] = math.Exp(v / temp)
		s += p[i]
	}
	for i := range p {
		p[i] /= s
	}
	return p
}
