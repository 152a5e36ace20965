package autograd

import (
	"math"
	"testing"
)

func attention[T Float](c AttentionConfig, tp *Tape[T], in []*Tensor[T]) *Tensor[T] {
	return Attention(tp, in[0], in[1], in[2], c)
}

// attnCase makes a case for batch b, sequence s and the heads of c.
func attnCase(name string, b, s int, c AttentionConfig) gradCase {
	q := inSpec{shape: []int{b, s, c.Heads * c.HeadDim}, grad: true, scale: 2}
	kv := inSpec{shape: []int{b, s, c.KVHeads * c.HeadDim}, grad: true, scale: 2}
	return newCase(opAttention, name, c, attention[float64], attention[float32], q, kv, kv)
}

var _ = addGradCases(
	attnCase("gqa", 2, 5, AttentionConfig{Heads: 4, KVHeads: 2, HeadDim: 3}),
	attnCase("mha", 1, 4, AttentionConfig{Heads: 2, KVHeads: 2, HeadDim: 4}),
	attnCase("mqa custom scale", 2, 3, AttentionConfig{Heads: 3, KVHeads: 1, HeadDim: 2, Scale: 0.9}),
	// Longer than one query block (attnBlock = 64).
	attnCase("two blocks", 1, attnBlock+6, AttentionConfig{Heads: 2, KVHeads: 1, HeadDim: 2}),
	func() gradCase {
		c := attnCase("constant k", 1, 4, AttentionConfig{Heads: 2, KVHeads: 1, HeadDim: 2})
		c.in[1].grad = false
		return c
	}(),
)

func TestAttentionGradients(t *testing.T) { runGradCases(t, opAttention) }

// attentionRef is causal grouped-query attention written out naively (the whole score matrix).
func attentionRef(q, k, v []float64, b, s int, c AttentionConfig) []float64 {
	ldq, ldk, d := c.Heads*c.HeadDim, c.KVHeads*c.HeadDim, c.HeadDim
	scale := c.Scale
	if scale == 0 {
		scale = 1 / math.Sqrt(float64(d))
	}
	out := make([]float64, b*s*ldq)
	for n := 0; n < b; n++ {
		for h := 0; h < c.Heads; h++ {
			g := h / (c.Heads / c.KVHeads)
			for i := 0; i < s; i++ {
				sc := make([]float64, i+1)
				mx := math.Inf(-1)
				for j := 0; j <= i; j++ {
					for x := 0; x < d; x++ {
						sc[j] += q[(n*s+i)*ldq+h*d+x] * k[(n*s+j)*ldk+g*d+x]
					}
					sc[j] *= scale
					mx = math.Max(mx, sc[j])
				}
				sum := 0.0
				for j := range sc {
					sc[j] = math.Exp(sc[j] - mx)
					sum += sc[j]
				}
				for j := range sc {
					for x := 0; x < d; x++ {
						out[(n*s+i)*ldq+h*d+x] += sc[j] / sum * v[(n*s+j)*ldk+g*d+x]
					}
				}
			}
		}
	}
	return out
}

func TestAttentionMatchesReference(t *testing.T) {
	for _, c := range []struct {
		b, s int
		cfg  AttentionConfig
	}{
		{2, 7, AttentionConfig{Heads: 4, KVHeads: 2, HeadDim: 8}},
		{1, 150, AttentionConfig{Heads: 2, KVHeads: 1, HeadDim: 16}},
		{3, 1, AttentionConfig{Heads: 1, KVHeads: 1, HeadDim: 4, Scale: 2}},
	} {
		in := makeInputs([]inSpec{
			{shape: []int{c.b, c.s, c.cfg.Heads * c.cfg.HeadDim}, scale: 2},
			{shape: []int{c.b, c.s, c.cfg.KVHeads * c.cfg.HeadDim}, scale: 2},
			{shape: []int{c.b, c.s, c.cfg.KVHeads * c.cfg.HeadDim}},
		}, 9)
		tp := &Tape[float64]{}
		got := Attention(tp, in[0], in[1], in[2], c.cfg)
		if tp.Err() != nil {
			t.Fatal(tp.Err())
		}
		want := attentionRef(in[0].Data, in[1].Data, in[2].Data, c.b, c.s, c.cfg)
		if e := relMax(got.Data, want); e > 1e-13 {
			t.Errorf("%+v: differs from the naive reference by %g", c, e)
		}
		got32 := Attention(&Tape[float32]{}, to32(in)[0], to32(in)[1], to32(in)[2], c.cfg)
		if e := relMax(got32.Data, want); e > 1e-5 {
			t.Errorf("%+v: float32 differs from the naive reference by %g", c, e)
		}
	}
}

func TestAttentionShapeErrors(t *testing.T) {
	mk := func(s ...int) *Tensor[float32] { x, _ := NewTensor[float32](nil, s...); return x }
	for _, c := range []struct {
		name    string
		q, k, v *Tensor[float32]
		cfg     AttentionConfig
	}{
		{"heads", mk(1, 4, 12), mk(1, 4, 6), mk(1, 4, 6), AttentionConfig{Heads: 3, KVHeads: 2, HeadDim: 2}},
		{"q width", mk(1, 4, 10), mk(1, 4, 4), mk(1, 4, 4), AttentionConfig{Heads: 4, KVHeads: 2, HeadDim: 2}},
		{"kv width", mk(1, 4, 8), mk(1, 4, 8), mk(1, 4, 4), AttentionConfig{Heads: 4, KVHeads: 2, HeadDim: 2}},
		{"seq", mk(1, 4, 8), mk(1, 3, 4), mk(1, 3, 4), AttentionConfig{Heads: 4, KVHeads: 2, HeadDim: 2}},
		{"rank", mk(4, 8), mk(4, 4), mk(4, 4), AttentionConfig{Heads: 4, KVHeads: 2, HeadDim: 2}},
		{"zero", mk(1, 4, 8), mk(1, 4, 4), mk(1, 4, 4), AttentionConfig{}},
		{"nil", mk(1, 4, 8), nil, mk(1, 4, 4), AttentionConfig{Heads: 4, KVHeads: 2, HeadDim: 2}},
	} {
		tp := &Tape[float32]{}
		if Attention(tp, c.q, c.k, c.v, c.cfg) != nil || tp.Err() == nil {
			t.Errorf("%s: accepted", c.name)
		} else {
			t.Logf("%s: %v", c.name, tp.Err())
		}
	}
}
