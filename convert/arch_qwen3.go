package convert

import "github.com/mcompress/mcompress/convert/gguf"

// qwen3Arch converts Qwen3ForCausalLM checkpoints to GGUF architecture "qwen3": like qwen2 but
// with per-head RMSNorms on q and k (attn_q_norm, attn_k_norm), no q/k/v biases by default and an
// explicit head_dim.
type qwen3Arch struct{ qwen2Arch }

func init() { register(qwen3Arch{}) }

func (qwen3Arch) hfNames() []string { return []string{"Qwen3ForCausalLM"} }
func (qwen3Arch) ggufArch() string  { return "qwen3" }
func (qwen3Arch) modelType() string { return "qwen3" }

var qwen3LayerTensors = func() map[string]string {
	m := map[string]string{}
	for k, v := range llamaLayerTensors {
		m[k] = v
	}
	for k, v := range qkNormTensors {
		m[k] = v
	}
	return m
}()

func (qwen3Arch) tensors() map[string]string { return qwen3LayerTensors }

// attention: Qwen3 always has per-head q/k norms; Qwen3Config's attention_bias decides the
// q/k/v biases.
func (qwen3Arch) attention(hp *hparams, bias bool) (bool, bool, error) {
	b, err := hp.bool("attention_bias", bias)
	return b, true, err
}

// defaults are transformers' Qwen3Config defaults.
func (qwen3Arch) defaults() hfDefaults {
	return hfDefaults{contextLength: 32768, rmsNormEps: 1e-6, ropeTheta: 10000}
}

func (qwen3Arch) hfConfig(cfg *orderedJSON, c Config, md gguf.Metadata) {
	cfg.set("architectures", []any{"Qwen3ForCausalLM"})
	cfg.set("model_type", "qwen3")
	cfg.set("hidden_act", "silu")
	cfg.set("attention_bias", c.AttentionBias)
	cfg.set("use_sliding_window", false)
	cfg.set("sliding_window", nil)
	cfg.set("max_window_layers", c.Layers)
}
