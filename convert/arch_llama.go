package convert

import (
	"fmt"
	"path/filepath"

	"github.com/mcompress/mcompress/convert/gguf"
)

// llamaArch converts Llama 2/3, TinyLlama, SmolLM and other LlamaForCausalLM checkpoints to
// GGUF architecture "llama": q/k projections are stored row-permuted (llama.cpp's RoPE works on
// interleaved pairs), llama3 RoPE scaling becomes a rope_freqs tensor, and the vocabulary comes
// from tokenizer.model (SentencePiece) or tokenizer.json (byte-level BPE).
type llamaArch struct{}

func init() { register(llamaArch{}) }

func (llamaArch) hfNames() []string { return []string{"LlamaForCausalLM", "LLaMAForCausalLM"} }
func (llamaArch) ggufArch() string  { return "llama" }
func (llamaArch) modelType() string { return "llama" }

// defaults are transformers' LlamaConfig defaults.
func (llamaArch) defaults() hfDefaults {
	return hfDefaults{contextLength: 2048, rmsNormEps: 1e-6, ropeTheta: 10000}
}

func (llamaArch) permuteQK() bool { return true }

// attention: LlamaConfig's attention_bias decides the q/k/v (and output) biases; no q/k norms.
func (llamaArch) attention(hp *hparams, bias bool) (bool, bool, error) {
	b, err := hp.bool("attention_bias", bias)
	return b, false, err
}

func (llamaArch) tensors() map[string]string { return llamaLayerTensors }

// params writes llama's extra keys: the vocabulary size and the rotated dimensions per head.
func (llamaArch) params(md *mdBuilder, hp *hparams, c Config) error {
	return llamaParams(md, hp, c)
}

func llamaParams(md *mdBuilder, hp *hparams, c Config) error {
	v, err := hp.int("vocab_size")
	if err != nil {
		return err
	}
	md.u32(md.key("vocab_size"), v)
	md.u32(md.key("rope.dimension_count"), c.HeadDim)
	return nil
}

func (llamaArch) vocab(md *mdBuilder, dir string, hp *hparams, c Config, opts Options) error {
	return llamaVocab(md, dir, c, opts)
}

// llamaVocab follows LlamaModel.set_vocab: add_space_prefix from tokenizer_config.json, then a
// SentencePiece tokenizer.model, else a SentencePiece-style tokenizer.json, else byte-level BPE.
func llamaVocab(md *mdBuilder, dir string, c Config, opts Options) error {
	tc, err := readJSONObject(filepath.Join(dir, "tokenizer_config.json"), true)
	if err != nil {
		return err
	}
	if b, ok := tc.raw("add_prefix_space").(bool); ok {
		md.boolean("tokenizer.ggml.add_space_prefix", b)
	}
	if cls := tc.str("tokenizer_class"); cls == "HybridDNATokenizer" {
		return fmt.Errorf("%w: %s: tokenizer class %q is not supported", ErrBadInput, tc.path, cls)
	}
	if fileExists(filepath.Join(dir, "tekken.json")) && !fileExists(filepath.Join(dir, "tokenizer.json")) {
		return fmt.Errorf("%w: %s: Mistral tekken.json tokenizers are not supported", ErrBadInput, dir)
	}
	switch {
	case fileExists(filepath.Join(dir, "tokenizer.model")):
		err = spmVocab(md, dir, c)
	default:
		t, terr := readTokenizerJSON(dir)
		if terr != nil {
			return terr
		}
		if t != nil && t.isLlamaHF() {
			err = llamaHFVocab(md, dir, t)
		} else {
			err = gpt2Vocab(md, dir, c, opts)
		}
	}
	if err != nil {
		return err
	}
	if c.VocabSize == 32016 { // CodeLlama's infill tokens, as llama.cpp adds them
		sv, err := loadSpecialVocab(dir, false, 0, []string{"prefix", "suffix", "middle", "eot"})
		if err != nil {
			return err
		}
		for typ, id := range map[string]int{"prefix": 32007, "suffix": 32008, "middle": 32009, "eot": 32010} {
			_ = sv.setID(typ, jsonNumber(id))
		}
		sv.ids.items = sortedByType(sv.ids.items, []string{"prefix", "suffix", "middle", "eot"})
		sv.write(md)
	}
	if c.VocabSize == 49152 { // granite small models
		md.boolean("tokenizer.ggml.add_bos_token", false)
	}
	return nil
}

// sortedByType orders special-token entries by their kind's position in order.
func sortedByType(items []kv[int], order []string) []kv[int] {
	var out []kv[int]
	for _, t := range order {
		for _, it := range items {
			if it.key == t {
				out = append(out, it)
			}
		}
	}
	return out
}

// hfConfig adds LlamaConfig's fields.
func (llamaArch) hfConfig(cfg *orderedJSON, c Config, md gguf.Metadata) {
	cfg.set("architectures", []any{"LlamaForCausalLM"})
	cfg.set("model_type", "llama")
	cfg.set("attention_bias", c.AttentionBias)
	cfg.set("mlp_bias", false)
	cfg.set("pretraining_tp", 1)
	cfg.set("hidden_act", "silu")
}
