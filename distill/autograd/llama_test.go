package autograd

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// This file builds a small Llama-family model from the package's ops (test-only code: the
// trainable model itself lives elsewhere) to prove that the ops compose: its full-model
// gradient must pass the finite-difference check, and with real weights it must reproduce the
// PyTorch gradients of ../shared (golden_test.go).

// llamaConfig is the shape of a Llama-family model.
type llamaConfig struct {
	vocab, hidden, layers, heads, kvHeads, ffn int
	eps, theta                                 float64
	style                                      RoPEStyle
	bias                                       bool // Qwen2: biases on q, k, v
	qkNorm                                     bool // Qwen3: RMSNorm of each q and k head
}

func (c llamaConfig) headDim() int { return c.hidden / c.heads }

// llamaModel holds the parameters under their Hugging Face names.
type llamaModel[T Float] struct {
	cfg    llamaConfig
	params Params[T]
}

// llamaShapes lists every parameter name and shape in HF module order.
func llamaShapes(c llamaConfig) (names []string, shapes [][]int) {
	add := func(n string, s ...int) { names = append(names, n); shapes = append(shapes, s) }
	d := c.headDim()
	add("model.embed_tokens.weight", c.vocab, c.hidden)
	for l := 0; l < c.layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"self_attn.q_proj.weight", c.heads*d, c.hidden)
		add(p+"self_attn.k_proj.weight", c.kvHeads*d, c.hidden)
		add(p+"self_attn.v_proj.weight", c.kvHeads*d, c.hidden)
		if c.bias {
			add(p+"self_attn.q_proj.bias", c.heads*d)
			add(p+"self_attn.k_proj.bias", c.kvHeads*d)
			add(p+"self_attn.v_proj.bias", c.kvHeads*d)
		}
		if c.qkNorm {
			add(p+"self_attn.q_norm.weight", d)
			add(p+"self_attn.k_norm.weight", d)
		}
		add(p+"self_attn.o_proj.weight", c.hidden, c.heads*d)
		add(p+"mlp.gate_proj.weight", c.ffn, c.hidden)
		add(p+"mlp.up_proj.weight", c.ffn, c.hidden)
		add(p+"mlp.down_proj.weight", c.hidden, c.ffn)
		add(p+"input_layernorm.weight", c.hidden)
		add(p+"post_attention_layernorm.weight", c.hidden)
	}
	add("model.norm.weight", c.hidden)
	add("lm_head.weight", c.vocab, c.hidden)
	return names, shapes
}

// newLlama makes a model whose parameters come from load(name, shape) (nil data: error).
func newLlama[T Float](c llamaConfig, load func(name string, shape []int) ([]T, error)) (*llamaModel[T], error) {
	m := &llamaModel[T]{cfg: c}
	names, shapes := llamaShapes(c)
	for i, n := range names {
		data, err := load(n, shapes[i])
		if err != nil {
			return nil, err
		}
		p, err := NewParam(n, data, shapes[i]...)
		if err != nil {
			return nil, err
		}
		if err := m.params.Add(p); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// randomLlama makes a model with N(0, 0.3) matrices and norm weights near 1.
func randomLlama[T Float](c llamaConfig, seed uint64) *llamaModel[T] {
	rng := rand.New(rand.NewPCG(seed, 5))
	m, err := newLlama(c, func(name string, shape []int) ([]T, error) {
		n := 1
		for _, d := range shape {
			n *= d
		}
		d := make([]T, n)
		for i := range d {
			if len(shape) == 1 {
				d[i] = T(1 + 0.2*rng.NormFloat64())
			} else {
				d[i] = T(0.3 * rng.NormFloat64())
			}
		}
		return d, nil
	})
	if err != nil {
		panic(err)
	}
	return m
}

// forward returns the logits [batch, seq, vocab] for ids (batch×seq tokens, row-major).
func (m *llamaModel[T]) forward(tp *Tape[T], ids []int32, batch, seq int) *Tensor[T] {
	c, p := m.cfg, m.params.Get
	d := c.headDim()
	pos := make([]int32, batch*seq)
	for i := range pos {
		pos[i] = int32(i % seq)
	}
	rope := RoPEConfig{HeadDim: d, Theta: c.theta, Style: c.style}
	attn := AttentionConfig{Heads: c.heads, KVHeads: c.kvHeads, HeadDim: d}
	linear := func(x *Tensor[T], w string) *Tensor[T] { return MatMul(tp, x, p(w), false, true) }
	x := Reshape(tp, Embedding(tp, p("model.embed_tokens.weight"), ids), batch, seq, c.hidden)
	for l := 0; l < c.layers; l++ {
		pre := fmt.Sprintf("model.layers.%d.", l)
		h := RMSNorm(tp, x, p(pre+"input_layernorm.weight"), c.eps)
		q := linear(h, pre+"self_attn.q_proj.weight")
		k := linear(h, pre+"self_attn.k_proj.weight")
		v := linear(h, pre+"self_attn.v_proj.weight")
		if c.bias {
			q = AddBias(tp, q, p(pre+"self_attn.q_proj.bias"))
			k = AddBias(tp, k, p(pre+"self_attn.k_proj.bias"))
			v = AddBias(tp, v, p(pre+"self_attn.v_proj.bias"))
		}
		if c.qkNorm {
			q = Reshape(tp, RMSNorm(tp, Reshape(tp, q, batch, seq, c.heads, d), p(pre+"self_attn.q_norm.weight"), c.eps), batch, seq, c.heads*d)
			k = Reshape(tp, RMSNorm(tp, Reshape(tp, k, batch, seq, c.kvHeads, d), p(pre+"self_attn.k_norm.weight"), c.eps), batch, seq, c.kvHeads*d)
		}
		q = RoPE(tp, q, pos, rope)
		k = RoPE(tp, k, pos, rope)
		a := Attention(tp, q, k, v, attn)
		x = Add(tp, x, linear(a, pre+"self_attn.o_proj.weight"))
		h = RMSNorm(tp, x, p(pre+"post_attention_layernorm.weight"), c.eps)
		g := linear(h, pre+"mlp.gate_proj.weight")
		u := linear(h, pre+"mlp.up_proj.weight")
		x = Add(tp, x, linear(SwiGLU(tp, g, u), pre+"mlp.down_proj.weight"))
	}
	x = RMSNorm(tp, x, p("model.norm.weight"), c.eps)
	return linear(x, "lm_head.weight")
}

// kdLoss is alpha·T²·KL(teacher ‖ student) (or the reverse) + (1 − alpha)·CE over the rows
// whose target is not ignore.
func kdLoss[T Float](tp *Tape[T], logits, teacher *Tensor[T], targets []int32, ignore int32, alpha, temp float64, reverse bool) *Tensor[T] {
	skip := make([]bool, len(targets))
	for i, t := range targets {
		skip[i] = t == ignore
	}
	kl := KLDiv(tp, logits, teacher, KLDivOptions{Temperature: temp, Reverse: reverse, IgnoreRows: skip})
	loss := Scale(tp, kl, alpha*temp*temp)
	if alpha != 1 {
		loss = Add(tp, loss, Scale(tp, CrossEntropy(tp, logits, targets, ignore), 1-alpha))
	}
	return loss
}

var tinyLlama = llamaConfig{vocab: 11, hidden: 8, layers: 2, heads: 2, kvHeads: 1, ffn: 12, eps: 1e-5, theta: 10000, style: RoPENeoX}

// TestTinyLlamaGradients checks the gradient of a distillation loss of a whole 2-layer model
// (every parameter) against finite differences, for Llama, Qwen2 and Qwen3 variants.
func TestTinyLlamaGradients(t *testing.T) {
	qwen2 := tinyLlama
	qwen2.bias, qwen2.style = true, RoPENormal
	qwen3 := tinyLlama
	qwen3.qkNorm, qwen3.heads, qwen3.kvHeads = true, 4, 2
	for _, c := range []struct {
		name string
		cfg  llamaConfig
		rev  bool
	}{{"llama forward KL", tinyLlama, false}, {"qwen2-like reverse KL", qwen2, true}, {"qwen3-like", qwen3, false}} {
		t.Run(c.name, func(t *testing.T) {
			const batch, seq = 2, 5
			rng := rand.New(rand.NewPCG(3, 4))
			ids := make([]int32, batch*seq)
			targets := make([]int32, batch*seq)
			for i := range ids {
				ids[i] = int32(rng.IntN(c.cfg.vocab - 3)) // some rows of the table stay unused
			}
			for i := range targets {
				targets[i] = -100
				if i%seq != seq-1 {
					targets[i] = ids[i+1]
				}
			}
			teacherData := make([]float64, batch*seq*c.cfg.vocab)
			for i := range teacherData {
				teacherData[i] = 2 * rng.NormFloat64()
			}
			teacher, _ := NewTensor(teacherData, batch, seq, c.cfg.vocab)
			m := randomLlama[float64](c.cfg, 1)
			f := func(tp *Tape[float64], _ []*Tensor[float64]) *Tensor[float64] {
				return kdLoss(tp, m.forward(tp, ids, batch, seq), teacher, targets, -100, 0.5, 2, c.rev)
			}
			if err := checkGradients(f, m.params.List(), 1e-6); err != nil {
				t.Fatal(err)
			}
			// Rows of the embedding of ids that never occur get exactly 0.
			emb := m.params.Get("model.embed_tokens.weight")
			for id := c.cfg.vocab - 3; id < c.cfg.vocab; id++ {
				for _, g := range emb.Grad[id*c.cfg.hidden : (id+1)*c.cfg.hidden] {
					if g != 0 {
						t.Fatalf("embedding row %d (absent) has gradient %v", id, g)
					}
				}
			}
		})
	}
}
