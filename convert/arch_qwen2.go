package convert

import (
	"path/filepath"

	"github.com/mcompress/mcompress/convert/gguf"
)

// qwen2Arch converts Qwen2ForCausalLM checkpoints (Qwen2, Qwen2.5) to GGUF architecture "qwen2":
// q/k/v projections carry biases, RoPE uses the NeoX ordering so no permutation is applied, and
// the vocabulary is byte-level BPE.
type qwen2Arch struct{}

func init() { register(qwen2Arch{}) }

func (qwen2Arch) hfNames() []string { return []string{"Qwen2ForCausalLM"} }
func (qwen2Arch) ggufArch() string  { return "qwen2" }
func (qwen2Arch) modelType() string { return "qwen2" }

// defaults are transformers' Qwen2Config defaults.
func (qwen2Arch) defaults() hfDefaults {
	return hfDefaults{contextLength: 32768, rmsNormEps: 1e-6, ropeTheta: 10000}
}

func (qwen2Arch) permuteQK() bool { return false }

// attention: Qwen2 always has q/k/v biases (transformers hard-codes them) and no q/k norms.
func (qwen2Arch) attention(hp *hparams, bias bool) (bool, bool, error) { return true, false, nil }

func (qwen2Arch) tensors() map[string]string { return llamaLayerTensors }

// params writes nothing beyond the common keys (llama.cpp's Qwen2Model adds only a pooling type
// for sentence-transformers exports, which are not supported).
func (qwen2Arch) params(md *mdBuilder, hp *hparams, c Config) error { return nil }

func (qwen2Arch) vocab(md *mdBuilder, dir string, hp *hparams, c Config, opts Options) error {
	return qwenVocab(md, dir, c, opts)
}

// qwenVocab follows Qwen2Model.set_vocab: SentencePiece when tokenizer.model exists, else
// byte-level BPE.
func qwenVocab(md *mdBuilder, dir string, c Config, opts Options) error {
	if fileExists(filepath.Join(dir, "tokenizer.model")) {
		return spmVocab(md, dir, c)
	}
	return gpt2Vocab(md, dir, c, opts)
}

func (qwen2Arch) hfConfig(cfg *orderedJSON, c Config, md gguf.Metadata) {
	cfg.set("architectures", []any{"Qwen2ForCausalLM"})
	cfg.set("model_type", "qwen2")
	cfg.set("hidden_act", "silu")
	cfg.set("use_sliding_window", false)
	cfg.set("sliding_window", nil)
	cfg.set("max_window_layers", c.Layers)
}
