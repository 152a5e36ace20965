package convert

import (
	"encoding/json"
	"path/filepath"

	"github.com/mcompress/mcompress/convert/gguf"
)

// gemma3Arch converts Gemma3ForCausalLM checkpoints (and the text model of
// Gemma3ForConditionalGeneration) to GGUF architecture "gemma3", as llama.cpp's Gemma3Model
// does: Gemma 2's layout plus per-head q/k RMSNorms, norm weights stored as 1+w, the common
// keys followed by Gemma 3's own (context, heads, key length and RoPE base with Gemma3Config's
// defaults, the final-logit soft-cap when set, the sliding window unless the pattern is 1) and
// a separate RoPE base for the local layers (rope.freq_base_swa). Five local layers alternate
// with one global (llama.cpp's fixed pattern of 6); the global layers take the linear RoPE
// scaling, the local ones none.
type gemma3Arch struct{}

func init() { register(gemma3Arch{}) }

func (gemma3Arch) hfNames() []string {
	return []string{"Gemma3ForCausalLM", "Gemma3ForConditionalGeneration"}
}
func (gemma3Arch) ggufArch() string  { return "gemma3" }
func (gemma3Arch) modelType() string { return "gemma3_text" }

// defaults are transformers' Gemma3TextConfig defaults.
func (gemma3Arch) defaults() hfDefaults {
	return hfDefaults{contextLength: 131072, rmsNormEps: 1e-6, ropeTheta: 1_000_000}
}

func (gemma3Arch) permuteQK() bool { return false }

// configDefaults are Gemma3TextConfig's defaults (transformers 4.5x) for the fields llama.cpp
// reads, which a Gemma3ForConditionalGeneration text_config usually leaves out.
func (gemma3Arch) configDefaults() map[string]any {
	return map[string]any{
		"vocab_size": json.Number("262208"), "hidden_size": json.Number("2304"),
		"intermediate_size": json.Number("9216"), "num_hidden_layers": json.Number("26"),
		"num_attention_heads": json.Number("8"), "num_key_value_heads": json.Number("4"),
		"head_dim": json.Number("256"), "max_position_embeddings": json.Number("131072"),
		"rms_norm_eps": json.Number("1e-06"), "rope_theta": json.Number("1000000.0"),
		"rope_local_base_freq": json.Number("10000.0"), "sliding_window": json.Number("4096"),
		"query_pre_attn_scalar": json.Number("256"), "final_logit_softcapping": nil,
		"attn_logit_softcapping": nil,
	}
}

// attention: Gemma 3 always has per-head q/k norms; attention_bias decides the biases.
func (gemma3Arch) attention(hp *hparams, bias bool) (bool, bool, error) {
	b, err := hp.bool("attention_bias", bias)
	return b, true, err
}

var gemma3LayerTensors = func() map[string]string {
	m := map[string]string{}
	for k, v := range gemmaLayerTensors {
		m[k] = v
	}
	for k, v := range qkNormTensors {
		m[k] = v
	}
	return m
}()

func (gemma3Arch) tensors() map[string]string { return gemma3LayerTensors }

func (gemma3Arch) skipTensor(string) bool { return false }

func (gemma3Arch) shift(name string) float32 { return gemmaNormShift(name) }

func (gemma3Arch) extraTensors(*hparams, Config) ([]SourceTensor, []gguf.KV, error) {
	return nil, nil, nil
}

// params writes what Gemma3Model.set_gguf_parameters adds after the common keys (rewriting a
// key in place keeps its position, as gguf-py's writer does).
func (gemma3Arch) params(md *mdBuilder, hp *hparams, c Config) error {
	md.u32(md.key("context_length"), c.ContextLength)
	md.u32(md.key("attention.head_count"), c.Heads)
	md.f32(md.key("attention.layer_norm_rms_epsilon"), c.RMSNormEps)
	md.u32(md.key("attention.key_length"), c.HeadDim)
	md.u32(md.key("attention.value_length"), c.HeadDim)
	md.f32(md.key("rope.freq_base"), c.RopeTheta)
	final, err := hp.floatOr("final_logit_softcapping", 0)
	if err != nil {
		return err
	}
	if final != 0 {
		md.f32(md.key("final_logit_softcapping"), final)
	}
	if pat, ok := intOf(hp.raw("sliding_window_pattern")); !ok || pat != 1 {
		sw, err := hp.intOr("sliding_window", 4096)
		if err != nil {
			return err
		}
		md.u32(md.key("attention.sliding_window"), sw)
	}
	md.u32(md.key("attention.head_count_kv"), c.KVHeads)
	return nil
}

// vocab follows Gemma3Model.set_vocab: SentencePiece (then add_space_prefix false) when
// tokenizer.model exists, else byte-level BPE.
func (gemma3Arch) vocab(md *mdBuilder, dir string, hp *hparams, c Config, opts Options) error {
	if fileExists(filepath.Join(dir, "tokenizer.model")) {
		if err := spmVocab(md, dir, c); err != nil {
			return err
		}
		md.boolean("tokenizer.ggml.add_space_prefix", false)
		return nil
	}
	return gpt2Vocab(md, dir, c, opts)
}

func (gemma3Arch) configFromGGUF(c *Config, md gguf.Metadata, _ []gguf.TensorInfo) {
	gemmaCommon(c)
	c.SlidingWindow, c.SWAPattern = 0, 0
	if v, ok := md.Uint("gemma3.attention.sliding_window"); ok && v > 0 {
		c.SlidingWindow, c.SWAPattern = int(v), 6
		if p, ok := md.Uint("gemma3.attention.sliding_window_pattern"); ok {
			c.SWAPattern = int(p)
		}
		c.RopeThetaSWA = 10000 // llama.cpp's default base of the local layers
		if v, ok := md.Float("gemma3.rope.freq_base_swa"); ok {
			c.RopeThetaSWA = v
		}
	}
	c.FinalSoftcap, _ = md.Float("gemma3.final_logit_softcapping")
	c.AttnScale = gemmaAttnScale(*c, 62)
}

func (gemma3Arch) ggufKeys(c Config) gguf.Metadata {
	var md gguf.Metadata
	if c.FinalSoftcap != 0 {
		md = append(md, gguf.KV{Key: "gemma3.final_logit_softcapping", Value: float32(c.FinalSoftcap)})
	}
	if c.SlidingWindow > 0 {
		md = append(md, gguf.KV{Key: "gemma3.attention.sliding_window", Value: uint32(c.SlidingWindow)})
		if c.SWAPattern != 6 {
			md = append(md, gguf.KV{Key: "gemma3.attention.sliding_window_pattern", Value: uint32(c.SWAPattern)})
		}
		if c.RopeThetaSWA > 0 {
			md = append(md, gguf.KV{Key: "gemma3.rope.freq_base_swa", Value: float32(c.RopeThetaSWA)})
		}
	}
	return md
}

func (gemma3Arch) configFromHF(c *Config, hp *hparams) error {
	gemmaCommon(c)
	var err error
	if c.FinalSoftcap, err = hp.floatOr("final_logit_softcapping", c.FinalSoftcap); err != nil {
		return err
	}
	if pat, ok := intOf(hp.raw("sliding_window_pattern")); ok && pat == 1 {
		c.SlidingWindow, c.SWAPattern = 0, 0
	} else {
		if c.SlidingWindow, err = hp.intOr("sliding_window", 4096); err != nil {
			return err
		}
		c.SWAPattern = 6
		theta, ok, err := localRopeTheta(hp)
		if err != nil {
			return err
		}
		c.RopeThetaSWA = 10000
		if ok {
			c.RopeThetaSWA = theta
		}
	}
	c.AttnScale = gemmaAttnScale(*c, 62)
	return nil
}

func (gemma3Arch) hfConfig(cfg *orderedJSON, c Config, md gguf.Metadata) {
	cfg.set("architectures", []any{"Gemma3ForCausalLM"})
	cfg.set("model_type", "gemma3_text")
	cfg.set("hidden_activation", "gelu_pytorch_tanh")
	cfg.set("attention_bias", c.AttentionBias)
	cfg.set("head_dim", c.HeadDim)
	cfg.set("query_pre_attn_scalar", c.HeadDim)
	if c.FinalSoftcap != 0 {
		cfg.set("final_logit_softcapping", f32JSON(float32(c.FinalSoftcap)))
	} else {
		cfg.set("final_logit_softcapping", nil)
	}
	cfg.set("attn_logit_softcapping", nil)
	if c.SlidingWindow > 0 {
		cfg.set("sliding_window", c.SlidingWindow)
		cfg.set("sliding_window_pattern", c.SWAPattern)
		if v, ok := md.Float("gemma3.rope.freq_base_swa"); ok {
			cfg.set("rope_local_base_freq", f32JSON(float32(v)))
		}
	} else {
		cfg.set("sliding_window_pattern", 1)
	}
}
