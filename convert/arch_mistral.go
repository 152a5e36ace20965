package convert

import "github.com/mcompress/mcompress/convert/gguf"

// mistralArch converts MistralForCausalLM checkpoints. llama.cpp treats them as llama (same
// tensors, same permutation, GGUF architecture "llama"); only the Hugging Face side differs.
type mistralArch struct{ llamaArch }

func init() { register(mistralArch{}) }

func (mistralArch) hfNames() []string { return []string{"MistralForCausalLM"} }
func (mistralArch) modelType() string { return "mistral" }

// defaults are transformers' MistralConfig defaults.
func (mistralArch) defaults() hfDefaults {
	return hfDefaults{contextLength: 4096 * 32, rmsNormEps: 1e-6, ropeTheta: 10000}
}

func (mistralArch) hfConfig(cfg *orderedJSON, c Config, md gguf.Metadata) {
	cfg.set("architectures", []any{"MistralForCausalLM"})
	cfg.set("model_type", "mistral")
	cfg.set("hidden_act", "silu")
	if c.SlidingWindow > 0 {
		cfg.set("sliding_window", c.SlidingWindow)
	} else {
		cfg.set("sliding_window", nil)
	}
}
