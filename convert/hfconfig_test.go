package convert

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// tinyBase is a llama configuration partial config.json files are read over.
func tinyBase(arch string) Config {
	c := Config{Arch: "llama", HFModelType: "llama", VocabSize: 96, Hidden: 32, Layers: 2, Heads: 4, KVHeads: 2,
		HeadDim: 8, FFN: 48, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 8, BOS: -1, EOS: -1}
	switch arch {
	case "qwen2":
		c.Arch, c.HFModelType, c.RopeNeoX, c.AttentionBias = "qwen2", "qwen2", true, true
	case "qwen3":
		c.Arch, c.HFModelType, c.RopeNeoX, c.QKNorm, c.HeadDim, c.RopeDim = "qwen3", "qwen3", true, true, 16, 16
	}
	return c
}

func TestParseHFConfig(t *testing.T) {
	for _, c := range []struct {
		name string
		base string // tinyBase's family
		json string
		want func(c *Config)
		err  string // part of the error; "" when accepted
	}{
		{"empty keeps the base", "llama", `{}`, func(c *Config) {}, ""},
		{"dimensions", "llama", `{"hidden_size": 64, "num_hidden_layers": 3, "intermediate_size": 96}`, func(c *Config) {
			c.Hidden, c.Layers, c.FFN, c.HeadDim, c.RopeDim = 64, 3, 96, 16, 16
		}, ""},
		{"llama.cpp's alternative keys", "llama", `{"n_layers": 5, "n_embd": 16}`, func(c *Config) {
			c.Layers, c.Hidden, c.HeadDim, c.RopeDim = 5, 16, 4, 4
		}, ""},
		{"heads without kv heads means no grouping", "llama", `{"num_attention_heads": 2}`, func(c *Config) {
			c.Heads, c.KVHeads, c.HeadDim, c.RopeDim = 2, 2, 16, 16
		}, ""},
		{"same heads keep the grouping", "llama", `{"num_attention_heads": 4}`, func(c *Config) {}, ""},
		{"explicit head_dim", "llama", `{"num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 8}`, func(c *Config) {
			c.Heads, c.KVHeads = 2, 1
		}, ""},
		{"mistral is llama", "llama", `{"architectures": ["MistralForCausalLM"], "sliding_window": 4096}`, func(c *Config) {
			c.HFModelType, c.SlidingWindow = "mistral", 4096
		}, ""},
		{"null sliding window", "llama", `{"sliding_window": null}`, func(c *Config) {}, ""},
		{"qwen2 has biases", "llama", `{"architectures": ["Qwen2ForCausalLM"]}`, func(c *Config) {
			c.Arch, c.HFModelType, c.RopeNeoX, c.AttentionBias = "qwen2", "qwen2", true, true
		}, ""},
		{"qwen2 ignores attention_bias", "llama", `{"architectures": ["Qwen2ForCausalLM"], "attention_bias": false}`, func(c *Config) {
			c.Arch, c.HFModelType, c.RopeNeoX, c.AttentionBias = "qwen2", "qwen2", true, true
		}, ""},
		{"qwen3 by model_type has q/k norms", "llama", `{"model_type": "qwen3", "head_dim": 16}`, func(c *Config) {
			c.Arch, c.HFModelType, c.RopeNeoX, c.QKNorm, c.HeadDim, c.RopeDim = "qwen3", "qwen3", true, true, 16, 16
		}, ""},
		{"qwen3 reads attention_bias", "qwen3", `{"attention_bias": true, "model_type": "qwen3"}`, func(c *Config) { c.AttentionBias = true }, ""},
		// A config naming another family takes that family's structure, not the base's.
		{"llama over qwen3 drops the q/k norms", "qwen3", `{"architectures": ["LlamaForCausalLM"]}`, func(c *Config) {
			c.Arch, c.HFModelType, c.RopeNeoX, c.QKNorm = "llama", "llama", false, false
		}, ""},
		{"llama over qwen2 drops the biases", "qwen2", `{"architectures": ["LlamaForCausalLM"]}`, func(c *Config) {
			c.Arch, c.HFModelType, c.RopeNeoX, c.AttentionBias = "llama", "llama", false, false
		}, ""},
		{"llama with biases", "llama", `{"architectures": ["LlamaForCausalLM"], "attention_bias": true}`, func(c *Config) { c.AttentionBias = true }, ""},
		{"tied, eps, theta, context", "llama", `{"tie_word_embeddings": true, "rms_norm_eps": 1e-6, "rope_theta": 500000, "max_position_embeddings": 128}`, func(c *Config) {
			c.TiedEmbeddings, c.RMSNormEps, c.RopeTheta, c.ContextLength = true, 1e-6, 500000, 128
		}, ""},
		{"linear rope scaling", "llama", `{"rope_scaling": {"type": "linear", "factor": 2.0}}`, func(c *Config) {
			c.RopeScaling = RopeScaling{Type: "linear", Factor: 2}
		}, ""},
		{"llama3 rope scaling", "llama", `{"rope_scaling": {"rope_type": "llama3", "factor": 8.0}}`, func(c *Config) {
			c.RopeScaling = RopeScaling{Type: "llama3", Factor: 8, OriginalContext: 8192, LowFreqFactor: 1, HighFreqFactor: 4}
		}, ""},
		{"text_config is merged", "llama", `{"text_config": {"hidden_size": 64}}`, func(c *Config) { c.Hidden, c.HeadDim, c.RopeDim = 64, 16, 16 }, ""},
		{"null fields are ignored", "llama", `{"rope_scaling": null, "head_dim": null}`, func(c *Config) {}, ""},
		{"not an object", "llama", `[1, 2]`, nil, "not a JSON object"},
		{"truncated", "llama", `{"hidden_size": 64`, nil, "not a JSON object"},
		{"negative width", "llama", `{"hidden_size": -4}`, nil, `"hidden_size"`},
		{"zero heads", "llama", `{"num_attention_heads": 0}`, nil, `"num_attention_heads" is 0`},
		{"zero width", "llama", `{"hidden_size": 0}`, nil, `"hidden_size" is 0`},
		{"fractional layers", "llama", `{"num_hidden_layers": 2.5}`, nil, `"num_hidden_layers"`},
		{"string number", "llama", `{"hidden_size": "64"}`, nil, `"hidden_size"`},
		{"bad bool", "llama", `{"tie_word_embeddings": "yes"}`, nil, `"tie_word_embeddings" = yes is not a boolean`},
		{"unsupported architecture", "llama", `{"architectures": ["GPT2LMHeadModel"]}`, nil, "LlamaForCausalLM, MistralForCausalLM, Phi3ForCausalLM, Qwen2ForCausalLM"},
		{"unsupported model_type", "llama", `{"model_type": "gpt2"}`, nil, "unsupported model_type \"gpt2\" (supported architectures: Gemma2ForCausalLM"},
		{"mlp bias", "llama", `{"mlp_bias": true}`, nil, "MLP biases"},
		{"experts", "llama", `{"num_local_experts": 8}`, nil, "mixture-of-experts"},
		{"zero eps", "llama", `{"rms_norm_eps": 0}`, nil, "rms_norm_eps"},
		// Not validated as a whole: overrides may still fix it.
		{"kv heads do not divide", "llama", `{"num_key_value_heads": 3}`, func(c *Config) { c.KVHeads = 3 }, ""},
		{"odd head dim", "llama", `{"num_attention_heads": 5, "hidden_size": 128}`, func(c *Config) {
			c.Heads, c.KVHeads, c.Hidden, c.HeadDim, c.RopeDim = 5, 5, 128, 25, 25
		}, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			base := tinyBase(c.base)
			got, err := ParseHFConfig([]byte(c.json), "student.json", base)
			if c.err != "" {
				if err == nil {
					t.Fatalf("accepted: %+v", got)
				}
				if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.err) || !strings.Contains(err.Error(), "student.json") {
					t.Errorf("error %q: want ErrBadInput naming student.json and %q", err, c.err)
				}
				if got != base {
					t.Errorf("on error got %+v, want the base back", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := base
			c.want(&want)
			if got != want {
				t.Errorf("got  %+v\nwant %+v", got, want)
			}
		})
	}
}

// TestReadHFConfig reads a folder's config.json and a file, and checks that a complete
// config.json read over an empty base is what a conversion plans before looking at tensors.
func TestReadHFConfig(t *testing.T) {
	dir := t.TempDir()
	js := `{"architectures": ["Qwen3ForCausalLM"], "vocab_size": 300, "hidden_size": 64, "intermediate_size": 128,
		"num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 32, "rope_theta": 1000000,
		"rms_norm_eps": 1e-6, "max_position_embeddings": 512, "tie_word_embeddings": true}`
	if err := os.WriteFile(filepath.Join(dir, "config.json"), []byte(js), 0o644); err != nil {
		t.Fatal(err)
	}
	want := Config{Arch: "qwen3", HFModelType: "qwen3", VocabSize: 300, Hidden: 64, Layers: 2, Heads: 4, KVHeads: 2, HeadDim: 32,
		FFN: 128, ContextLength: 512, RMSNormEps: 1e-6, RopeTheta: 1e6, RopeDim: 32, RopeNeoX: true, TiedEmbeddings: true,
		QKNorm: true, BOS: -1, EOS: -1}
	for _, p := range []string{dir, filepath.Join(dir, "config.json")} {
		got, err := ReadHFConfig(p, Config{BOS: -1, EOS: -1})
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("%s:\ngot  %+v\nwant %+v", p, got, want)
		}
	}
	hp, err := readConfig(dir)
	if err != nil {
		t.Fatal(err)
	}
	a, err := lookupArchOrType(hp)
	if err != nil {
		t.Fatal(err)
	}
	full, err := configFromHF(hp, a)
	if err != nil {
		t.Fatal(err)
	}
	if full != want {
		t.Errorf("complete read:\ngot  %+v\nwant %+v", full, want)
	}
	if _, err := ReadHFConfig(filepath.Join(dir, "missing.json"), want); !errors.Is(err, ErrBadInput) {
		t.Errorf("missing file: %v", err)
	}
}

// TestConfigFromHFRequired: a complete read (a conversion) still requires what llama.cpp
// needs, naming the field and the file.
func TestConfigFromHFRequired(t *testing.T) {
	for _, c := range []struct{ json, want string }{
		{`{"hidden_size": 8, "intermediate_size": 8, "num_attention_heads": 2, "vocab_size": 4}`, `"n_layers" "num_hidden_layers" "n_layer" "num_layers"`},
		{`{"num_hidden_layers": 1, "hidden_size": 8, "intermediate_size": 8, "num_attention_heads": 2}`, `"vocab_size" missing`},
		{`{"num_hidden_layers": 1, "hidden_size": 8, "intermediate_size": 8, "num_attention_heads": 0, "vocab_size": 4}`, `num_attention_heads is 0`},
		{`{"num_hidden_layers": 1, "hidden_size": 8, "intermediate_size": 8, "num_attention_heads": 2, "vocab_size": 4, "num_key_value_heads": 3}`, `not a multiple`},
	} {
		hp, err := parseJSONObject([]byte(c.json), "config.json")
		if err != nil {
			t.Fatal(err)
		}
		_, err = configFromHF(hp, registry["LlamaForCausalLM"])
		if err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), "config.json") {
			t.Errorf("%s: error %v, want one naming %s", c.json, err, c.want)
		}
	}
}

// TestGGUFFamilies: the GGUF architectures ConfigFromGGUF reads come from the same table as the
// config.json families, with their RoPE ordering.
func TestGGUFFamilies(t *testing.T) {
	if got := strings.Join(SupportedGGUFArchitectures(), " "); got != "gemma2 gemma3 llama phi3 qwen2 qwen3" {
		t.Errorf("SupportedGGUFArchitectures = %s", got)
	}
	for arch, neox := range map[string]bool{"llama": false, "qwen2": true, "qwen3": true, "gemma2": true, "gemma3": true, "phi3": true} {
		md := gguf.Metadata{{Key: "general.architecture", Value: arch}, {Key: arch + ".block_count", Value: uint32(1)},
			{Key: arch + ".embedding_length", Value: uint32(8)}, {Key: arch + ".feed_forward_length", Value: uint32(8)},
			{Key: arch + ".attention.head_count", Value: uint32(2)}, {Key: arch + ".vocab_size", Value: uint32(4)}}
		c, err := ConfigFromGGUF(md, nil)
		if err != nil || c.RopeNeoX != neox {
			t.Errorf("%s: %+v, %v; want RopeNeoX %t", arch, c, err, neox)
		}
	}
	_, err := ConfigFromGGUF(gguf.Metadata{{Key: "general.architecture", Value: "gpt2"}}, nil)
	if err == nil || !strings.Contains(err.Error(), `"gpt2" (supported: gemma2, gemma3, llama, phi3, qwen2, qwen3)`) {
		t.Errorf("gpt2: %v", err)
	}
}
