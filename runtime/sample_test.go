package runtime

import (
	"math"
	"testing"
)

func TestSamplerGreedy(t *testing.T) {
	logits := []float32{0.1, 2.5, -1, 2.4}
	for _, o := range []SamplerOptions{{}, {Temperature: 1, TopK: 1}, {Temperature: 0.8, MinP: 1}, {Temperature: 2, TopP: 1e-9}} {
		s, err := NewSampler(o)
		if err != nil {
			t.Fatal(err)
		}
		for range 20 {
			if got := s.Sample(logits); got != 1 {
				t.Fatalf("%+v: sampled %d, want 1", o, got)
			}
		}
	}
}

func TestSamplerRepeatPenalty(t *testing.T) {
	s, _ := NewSampler(SamplerOptions{RepeatPenalty: 1.5})
	s.Accept(1)
	// 2.5/1.5 < 2.4: the penalised token loses.
	if got := s.Sample([]float32{0.1, 2.5, -1, 2.4}); got != 3 {
		t.Fatalf("sampled %d, want 3", got)
	}
	s, _ = NewSampler(SamplerOptions{RepeatPenalty: 1.5, RepeatLastN: 1})
	s.Accept(1)
	s.Accept(0) // token 1 leaves the window of 1
	if got := s.Sample([]float32{0.1, 2.5, -1, 2.4}); got != 1 {
		t.Fatalf("sampled %d, want 1", got)
	}
}

func TestSamplerDistribution(t *testing.T) {
	// Probabilities 3/4 and 1/4 at temperature 1; a third token removed by top-k.
	logits := []float32{float32(math.Log(3)), 0, -0.5}
	s, _ := NewSampler(SamplerOptions{Temperature: 1, TopK: 2, Seed: 11})
	counts := make([]int, 3)
	const n = 20000
	for range n {
		counts[s.Sample(logits)]++
	}
	if counts[2] != 0 {
		t.Fatalf("top-k kept token 2 (%d draws)", counts[2])
	}
	if f := float64(counts[0]) / n; math.Abs(f-0.75) > 0.015 {
		t.Fatalf("token 0 drawn with frequency %.3f, want 0.75", f)
	}
	// Min-p 0.5 drops token 1 (1/4 < 0.5 * 3/4).
	s, _ = NewSampler(SamplerOptions{Temperature: 1, MinP: 0.5, Seed: 1})
	for range 200 {
		if s.Sample(logits) != 0 {
			t.Fatal("min-p kept a token below the threshold")
		}
	}
	// Top-p 0.6 keeps only the first token (probability 3/(4+e^-0.5) = 0.65).
	s, _ = NewSampler(SamplerOptions{Temperature: 1, TopP: 0.6, Seed: 1})
	for range 200 {
		if s.Sample(logits) != 0 {
			t.Fatal("top-p kept a token past the mass")
		}
	}
}

func TestSamplerSeedDeterminism(t *testing.T) {
	logits := make([]float32, 100)
	for i := range logits {
		logits[i] = float32(math.Sin(float64(i)))
	}
	draw := func(seed uint64) []int32 {
		s, _ := NewSampler(SamplerOptions{Temperature: 1.3, TopP: 0.95, Seed: seed})
		var out []int32
		for range 50 {
			out = append(out, s.Sample(logits))
		}
		return out
	}
	a, b, c := draw(5), draw(5), draw(6)
	same := true
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same seed, draw %d: %d vs %d", i, a[i], b[i])
		}
		same = same && a[i] == c[i]
	}
	if same {
		t.Fatal("different seeds gave identical draws")
	}
}

func TestSamplerOptionErrors(t *testing.T) {
	for _, o := range []SamplerOptions{{TopK: -1}, {TopP: 1.5}, {MinP: -0.1}, {RepeatPenalty: -1}, {RepeatLastN: -2}, {Temperature: math.NaN()}} {
		if _, err := NewSampler(o); err == nil {
			t.Errorf("%+v: no error", o)
		}
	}
}
