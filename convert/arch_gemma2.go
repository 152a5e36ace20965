package convert

import (
	"fmt"
	"math"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// gemma2Arch converts Gemma2ForCausalLM checkpoints to GGUF architecture "gemma2", as llama.cpp's
// Gemma2Model does: norm weights are stored as 1+w (Gemma's RMSNorm multiplies by 1+w), the
// output is always the token embedding (lm_head is dropped), RoPE is NeoX-ordered so q/k are
// not permuted, and the hyperparameters are written by the family itself, with the attention
// and final-logit soft-capping values and the sliding window. The runtime scales embeddings by
// sqrt(hidden), adds the post-attention and post-FFN norms, uses GeGLU, and windows every
// other layer (even layers local, odd ones global).
type gemma2Arch struct{}

func init() { register(gemma2Arch{}) }

func (gemma2Arch) hfNames() []string { return []string{"Gemma2ForCausalLM"} }
func (gemma2Arch) ggufArch() string  { return "gemma2" }
func (gemma2Arch) modelType() string { return "gemma2" }
func (gemma2Arch) ownParams()        {}

// defaults are transformers' Gemma2Config defaults.
func (gemma2Arch) defaults() hfDefaults {
	return hfDefaults{contextLength: 8192, rmsNormEps: 1e-6, ropeTheta: 10000}
}

func (gemma2Arch) permuteQK() bool { return false }

// attention: Gemma2Config's attention_bias decides the q/k/v biases; no q/k norms.
func (gemma2Arch) attention(hp *hparams, bias bool) (bool, bool, error) {
	b, err := hp.bool("attention_bias", bias)
	return b, false, err
}

// gemmaLayerTensors are the per-layer tensors of Gemma 2 (and, with q/k norms, Gemma 3).
var gemmaLayerTensors = map[string]string{
	"input_layernorm":            "attn_norm",
	"self_attn.q_proj":           "attn_q",
	"self_attn.k_proj":           "attn_k",
	"self_attn.v_proj":           "attn_v",
	"self_attn.o_proj":           "attn_output",
	"post_attention_layernorm":   "post_attention_norm",
	"pre_feedforward_layernorm":  "ffn_norm",
	"post_feedforward_layernorm": "post_ffw_norm",
	"mlp.gate_proj":              "ffn_gate",
	"mlp.up_proj":                "ffn_up",
	"mlp.down_proj":              "ffn_down",
}

func (gemma2Arch) tensors() map[string]string { return gemmaLayerTensors }

// skipTensor drops lm_head: llama.cpp's Gemma2 always ties the output to the embedding.
func (gemma2Arch) skipTensor(hfName string) bool { return hfName == "lm_head.weight" }

// shift: Gemma's RMSNorm multiplies by 1+w; llama.cpp stores 1+w.
func (gemma2Arch) shift(name string) float32 { return gemmaNormShift(name) }

func gemmaNormShift(name string) float32 {
	if strings.HasSuffix(name, "norm.weight") {
		return 1
	}
	return 0
}

func (gemma2Arch) extraTensors(*hparams, Config) ([]SourceTensor, []gguf.KV, error) {
	return nil, nil, nil
}

// gemmaFloat reads a float field with transformers' default def; null is refused (llama.cpp's
// converter would fail writing it).
func gemmaFloat(hp *hparams, key string, def float64) (float64, error) {
	if v, present := hp.m[key]; present && v == nil {
		return 0, fmt.Errorf("%w: %s: field %q is null; llama.cpp's converter needs a number", ErrBadInput, hp.path, key)
	}
	return hp.floatOr(key, def)
}

// params writes Gemma2Model.set_gguf_parameters' keys in its order (general.file_type as a
// placeholder the caller fills in).
func (gemma2Arch) params(md *mdBuilder, hp *hparams, c Config) error {
	if !hp.has("head_dim") {
		return fmt.Errorf("%w: %s: field \"head_dim\" missing", ErrBadInput, hp.path)
	}
	attnCap, err := gemmaFloat(hp, "attn_logit_softcapping", 50)
	if err != nil {
		return err
	}
	finalCap, err := gemmaFloat(hp, "final_logit_softcapping", 30)
	if err != nil {
		return err
	}
	sw, err := hp.intOr("sliding_window", 4096)
	if err != nil {
		return err
	}
	md.u32(md.key("context_length"), c.ContextLength)
	md.u32(md.key("embedding_length"), c.Hidden)
	md.u32(md.key("block_count"), c.Layers)
	md.u32(md.key("feed_forward_length"), c.FFN)
	md.u32(md.key("attention.head_count"), c.Heads)
	md.u32(md.key("attention.head_count_kv"), c.KVHeads)
	md.f32(md.key("attention.layer_norm_rms_epsilon"), c.RMSNormEps)
	md.u32(md.key("attention.key_length"), c.HeadDim)
	md.u32(md.key("attention.value_length"), c.HeadDim)
	md.u32("general.file_type", 0)
	md.f32(md.key("attn_logit_softcapping"), attnCap)
	md.f32(md.key("final_logit_softcapping"), finalCap)
	md.u32(md.key("attention.sliding_window"), sw)
	return nil
}

// vocab follows Gemma2Model.set_vocab: SentencePiece, then add_space_prefix false.
func (gemma2Arch) vocab(md *mdBuilder, dir string, hp *hparams, c Config, opts Options) error {
	if err := spmVocab(md, dir, c); err != nil {
		return err
	}
	md.boolean("tokenizer.ggml.add_space_prefix", false)
	return nil
}

// gemmaAttnScale is llama.cpp's query scale for Gemma 2/3: 1/sqrt(head_dim), except for the 27B
// models (recognized by their layer count), which use 1/sqrt(hidden/heads).
func gemmaAttnScale(c Config, layers27B int) float64 {
	if c.Layers == layers27B && c.Heads > 0 {
		return float64(float32(1 / math.Sqrt(float64(c.Hidden/c.Heads))))
	}
	return 0
}

func (gemma2Arch) configFromGGUF(c *Config, md gguf.Metadata, _ []gguf.TensorInfo) {
	gemmaCommon(c)
	c.SWAPattern = 2
	c.SlidingWindow = 4096
	if v, ok := md.Uint("gemma2.attention.sliding_window"); ok {
		c.SlidingWindow = int(v)
	}
	if v, ok := md.Uint("gemma2.attention.sliding_window_pattern"); ok {
		c.SWAPattern = int(v)
	}
	c.AttnSoftcap, _ = md.Float("gemma2.attn_logit_softcapping")
	c.FinalSoftcap, _ = md.Float("gemma2.final_logit_softcapping")
	if v, ok := md.Float("gemma2.rope.freq_base_swa"); ok {
		c.RopeThetaSWA = v
	}
	c.AttnScale = gemmaAttnScale(*c, 46)
	c.TiedEmbeddings = true
	c.RopeTheta = 10000 // llama.cpp's default: Gemma2Model writes no rope.freq_base
	if v, ok := md.Float("gemma2.rope.freq_base"); ok {
		c.RopeTheta = v
	}
}

func (gemma2Arch) ggufKeys(c Config) gguf.Metadata {
	return gguf.Metadata{
		{Key: "gemma2.attn_logit_softcapping", Value: float32(c.AttnSoftcap)},
		{Key: "gemma2.final_logit_softcapping", Value: float32(c.FinalSoftcap)},
		{Key: "gemma2.attention.sliding_window", Value: uint32(c.SlidingWindow)},
	}
}

func (gemma2Arch) configFromHF(c *Config, hp *hparams) error {
	gemmaCommon(c)
	c.SWAPattern = 2
	var err error
	if c.AttnSoftcap, err = gemmaFloat(hp, "attn_logit_softcapping", 50); err != nil {
		return err
	}
	if c.FinalSoftcap, err = gemmaFloat(hp, "final_logit_softcapping", 30); err != nil {
		return err
	}
	if c.SlidingWindow, err = hp.intOr("sliding_window", 4096); err != nil {
		return err
	}
	c.AttnScale = gemmaAttnScale(*c, 46)
	c.TiedEmbeddings = true
	return nil
}

// gemmaCommon sets what every Gemma has: scaled embeddings, post-norms, GeGLU.
func gemmaCommon(c *Config) {
	c.EmbedScale, c.PostNorms, c.GELU = true, true, true
}

func (gemma2Arch) hfConfig(cfg *orderedJSON, c Config, md gguf.Metadata) {
	cfg.set("architectures", []any{"Gemma2ForCausalLM"})
	cfg.set("model_type", "gemma2")
	cfg.set("hidden_activation", "gelu_pytorch_tanh")
	cfg.set("attention_bias", c.AttentionBias)
	cfg.set("head_dim", c.HeadDim)
	cfg.set("query_pre_attn_scalar", c.HeadDim)
	cfg.set("attn_logit_softcapping", f32JSON(float32(c.AttnSoftcap)))
	cfg.set("final_logit_softcapping", f32JSON(float32(c.FinalSoftcap)))
	cfg.set("sliding_window", c.SlidingWindow)
}
