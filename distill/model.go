package distill

import (
	"fmt"
	"math"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/distill/autograd"
	"github.com/mcompress/mcompress/runtime"
)

// Tensor is the float32 autograd tensor the trainable model is made of.
type Tensor = autograd.Tensor[float32]

// Tape is the float32 autograd tape training steps are recorded on.
type Tape = autograd.Tape[float32]

// Model is a trainable Llama-family model (llama, mistral, qwen2 with q/k/v biases, qwen3 with
// per-head q/k norms; tied or untied output) in float32.
//
// Parameters live in GGUF space: they are named as llama.cpp names them ("token_embd.weight",
// "blk.0.attn_q.weight", …) and the Q and K rows of llama models are in the permuted order
// llama.cpp's converter writes, so that RoPE pairs adjacent elements exactly as the runtime
// does. Shapes are PyTorch's ([out, in]), which is the same memory layout as GGUF's. Loading
// from a Hugging Face folder goes through the converter (renaming and permuting), and saving
// goes back through it, so the model reads and writes both worlds with the runtime's numbers.
type Model struct {
	// Config describes the architecture.
	Config convert.Config
	// Params holds the trainable parameters in a fixed order (see ParamNames).
	Params autograd.Params[float32]
	// Metadata is the GGUF metadata the model came with (tokenizer, names); Save carries its
	// tokenizer and general keys into the files it writes. It may be nil for a model that is
	// never saved.
	Metadata gguf.Metadata
	// RopeFactors are llama3-style per-pair frequency divisors (GGUF rope_freqs.weight), nil
	// when the model has none. They are constants, not parameters.
	RopeFactors []float32

	invFreq []float64 // RoPE inverse frequency of each pair, scaling applied
	mscale  float64   // YaRN magnitude correction of q and k (1 otherwise)
	layers  []layerParams
	embed   *Tensor
	outNorm *Tensor
	output  *Tensor // == embed when tied
}

// layerParams holds one block's parameters (nil when the architecture has none).
type layerParams struct {
	attnNorm, wq, wk, wv, wo, bq, bk, bv, qNorm, kNorm *Tensor
	ffnNorm, wgate, wup, wdown                         *Tensor
}

// ParamSpec is the name and PyTorch-order shape of one parameter.
type ParamSpec struct {
	Name  string
	Shape []int
}

// ParamSpecs lists the parameters of a model with config c, in the order the model keeps
// them: token_embd, then per block attn_norm, attn_q, attn_k, attn_v (with their biases for
// qwen2), attn_q_norm and attn_k_norm (qwen3), attn_output, ffn_norm, ffn_gate, ffn_up,
// ffn_down, then output_norm and output (absent when the embeddings are tied).
func ParamSpecs(c convert.Config) []ParamSpec {
	var s []ParamSpec
	add := func(name string, shape ...int) { s = append(s, ParamSpec{name, shape}) }
	h, q, kv := c.Hidden, c.QDim(), c.KVDim()
	add("token_embd.weight", c.VocabSize, h)
	for l := 0; l < c.Layers; l++ {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", h)
		add(p+"attn_q.weight", q, h)
		if c.AttentionBias {
			add(p+"attn_q.bias", q)
		}
		add(p+"attn_k.weight", kv, h)
		if c.AttentionBias {
			add(p+"attn_k.bias", kv)
		}
		add(p+"attn_v.weight", kv, h)
		if c.AttentionBias {
			add(p+"attn_v.bias", kv)
		}
		if c.QKNorm {
			add(p+"attn_q_norm.weight", c.HeadDim)
			add(p+"attn_k_norm.weight", c.HeadDim)
		}
		add(p+"attn_output.weight", h, q)
		add(p+"ffn_norm.weight", h)
		add(p+"ffn_gate.weight", c.FFN, h)
		add(p+"ffn_up.weight", c.FFN, h)
		add(p+"ffn_down.weight", h, c.FFN)
	}
	add("output_norm.weight", h)
	if !c.TiedEmbeddings {
		add("output.weight", c.VocabSize, h)
	}
	return s
}

// CheckConfig reports why a model with config c cannot be trained here, or nil.
func CheckConfig(c convert.Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	switch c.Arch {
	case "llama", "qwen2", "qwen3":
	default:
		return fmt.Errorf("config: architecture %q is not supported (llama, mistral, qwen2, qwen3)", c.Arch)
	}
	if c.RopeDim != c.HeadDim {
		return fmt.Errorf("config: RoPE over %d of %d head dimensions is not supported", c.RopeDim, c.HeadDim)
	}
	switch c.RopeScaling.Type {
	case "", "none", "linear", "llama3", "yarn":
	default:
		return fmt.Errorf("config: RoPE scaling %q is not supported", c.RopeScaling.Type)
	}
	if c.VocabSize > math.MaxInt32 {
		return fmt.Errorf("config: vocabulary of %d tokens is too large", c.VocabSize)
	}
	if n := c.NumParams(); n > 1<<36 {
		return fmt.Errorf("config: %d parameters is too many to train in memory", n)
	}
	return nil
}

// NewModel returns a model with config c whose parameters are all zero (norm weights too):
// fill them with Init, InitFromTeacher or by copying. md is kept as the model's Metadata.
func NewModel(c convert.Config, md gguf.Metadata) (*Model, error) {
	if err := CheckConfig(c); err != nil {
		return nil, fmt.Errorf("distill: %w", err)
	}
	m := &Model{Config: c, Metadata: md}
	for _, s := range ParamSpecs(c) {
		p, err := autograd.NewParam[float32](s.Name, nil, s.Shape...)
		if err != nil {
			return nil, fmt.Errorf("distill: %w", err)
		}
		if err := m.Params.Add(p); err != nil {
			return nil, fmt.Errorf("distill: %w", err)
		}
	}
	m.bind()
	return m, nil
}

// bind caches the parameter pointers and the RoPE frequencies.
func (m *Model) bind() {
	c, get := m.Config, m.Params.Get
	m.embed = get("token_embd.weight")
	m.outNorm = get("output_norm.weight")
	m.output = get("output.weight")
	if m.output == nil {
		m.output = m.embed
	}
	m.layers = make([]layerParams, c.Layers)
	for l := range m.layers {
		p := fmt.Sprintf("blk.%d.", l)
		m.layers[l] = layerParams{
			attnNorm: get(p + "attn_norm.weight"),
			wq:       get(p + "attn_q.weight"), wk: get(p + "attn_k.weight"), wv: get(p + "attn_v.weight"),
			bq: get(p + "attn_q.bias"), bk: get(p + "attn_k.bias"), bv: get(p + "attn_v.bias"),
			qNorm: get(p + "attn_q_norm.weight"), kNorm: get(p + "attn_k_norm.weight"),
			wo:      get(p + "attn_output.weight"),
			ffnNorm: get(p + "ffn_norm.weight"),
			wgate:   get(p + "ffn_gate.weight"), wup: get(p + "ffn_up.weight"), wdown: get(p + "ffn_down.weight"),
		}
	}
	freqs := runtime.NewRoPEFrequencies(c, m.RopeFactors)
	m.invFreq, m.mscale = freqs.PerPosition(), freqs.MScale
}

// NumParams returns the number of trainable scalars.
func (m *Model) NumParams() int { return m.Params.NumElements() }

// Forward records the forward pass of batch sequences of seq tokens each (ids is batch×seq,
// row-major, every sequence starting at position 0) on tp and returns the logits, shape
// [batch, seq, vocab].
func (m *Model) Forward(tp *Tape, ids []int32, batch, seq int) (*Tensor, error) {
	c := m.Config
	if batch <= 0 || seq <= 0 || len(ids) != batch*seq {
		return nil, fmt.Errorf("distill: forward: %d token ids for %d sequences of %d", len(ids), batch, seq)
	}
	pos := make([]int32, batch*seq)
	for i := range pos {
		pos[i] = int32(i % seq)
	}
	hd := c.HeadDim
	style := autograd.RoPENormal
	if c.RopeNeoX {
		style = autograd.RoPENeoX
	}
	rope := autograd.RoPEConfig{HeadDim: hd, Style: style, Freqs: m.invFreq}
	attn := autograd.AttentionConfig{Heads: c.Heads, KVHeads: c.KVHeads, HeadDim: hd}
	linear := func(x, w *Tensor) *Tensor { return autograd.MatMul(tp, x, w, false, true) }
	eps := c.RMSNormEps
	x := autograd.Reshape(tp, autograd.Embedding(tp, m.embed, ids), batch, seq, c.Hidden)
	for i := range m.layers {
		l := &m.layers[i]
		h := autograd.RMSNorm(tp, x, l.attnNorm, eps)
		q, k, v := linear(h, l.wq), linear(h, l.wk), linear(h, l.wv)
		if l.bq != nil {
			q = autograd.AddBias(tp, q, l.bq)
			k = autograd.AddBias(tp, k, l.bk)
			v = autograd.AddBias(tp, v, l.bv)
		}
		if l.qNorm != nil {
			q = autograd.Reshape(tp, autograd.RMSNorm(tp, autograd.Reshape(tp, q, batch, seq, c.Heads, hd), l.qNorm, eps), batch, seq, c.Heads*hd)
			k = autograd.Reshape(tp, autograd.RMSNorm(tp, autograd.Reshape(tp, k, batch, seq, c.KVHeads, hd), l.kNorm, eps), batch, seq, c.KVHeads*hd)
		}
		q = autograd.RoPE(tp, q, pos, rope)
		k = autograd.RoPE(tp, k, pos, rope)
		if m.mscale != 1 {
			q = autograd.Scale(tp, q, m.mscale)
			k = autograd.Scale(tp, k, m.mscale)
		}
		a := autograd.Attention(tp, q, k, v, attn)
		x = autograd.Add(tp, x, linear(a, l.wo))
		h = autograd.RMSNorm(tp, x, l.ffnNorm, eps)
		g := autograd.SwiGLU(tp, linear(h, l.wgate), linear(h, l.wup))
		x = autograd.Add(tp, x, linear(g, l.wdown))
	}
	x = autograd.RMSNorm(tp, x, m.outNorm, eps)
	out := linear(x, m.output)
	if err := tp.Err(); err != nil {
		return nil, fmt.Errorf("distill: forward: %w", err)
	}
	return out, nil
}

// decays reports whether AdamW's weight decay applies to parameter p: matrices yes, norm
// weights and biases (1-D) no.
func decays(p *Tensor) bool { return len(p.Shape) >= 2 }
