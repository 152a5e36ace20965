package distill

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"strings"

	"github.com/mcompress/mcompress/convert"
)

// ConfigOverrides change the dimensions of a configuration; zero fields keep the base value.
type ConfigOverrides struct {
	Layers, Hidden, Heads, KVHeads, HeadDim, FFN int
	// Tied, when not nil, ties (true) or unties (false) the output projection to the embedding.
	Tied *bool
}

// ParseHFConfig reads a Hugging Face config.json (as transformers writes it for
// LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM or Qwen3ForCausalLM) on top of base:
// keys present in the JSON replace base's values, absent ones keep them (so a student config
// may give only the dimensions it changes; the vocabulary, norms and RoPE come from the
// teacher). As in transformers, a config that changes num_attention_heads without giving
// num_key_value_heads means no grouping, and head_dim defaults to hidden_size divided by the
// heads. Unknown keys are ignored, as transformers does.
func ParseHFConfig(data []byte, base convert.Config) (convert.Config, error) {
	var raw map[string]any
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&raw); err != nil {
		return base, fmt.Errorf("config.json: %w", err)
	}
	if raw == nil {
		return base, fmt.Errorf("config.json: not a JSON object")
	}
	c := base
	arch := ""
	if a, ok := raw["architectures"].([]any); ok && len(a) > 0 {
		arch, _ = a[0].(string)
	}
	mt, _ := raw["model_type"].(string)
	switch {
	case arch == "LlamaForCausalLM" || (arch == "" && mt == "llama"):
		c.Arch, c.HFModelType, c.RopeNeoX = "llama", "llama", false
	case arch == "MistralForCausalLM" || (arch == "" && mt == "mistral"):
		c.Arch, c.HFModelType, c.RopeNeoX = "llama", "mistral", false
	case arch == "Qwen2ForCausalLM" || (arch == "" && mt == "qwen2"):
		c.Arch, c.HFModelType, c.RopeNeoX, c.AttentionBias, c.QKNorm = "qwen2", "qwen2", true, true, false
	case arch == "Qwen3ForCausalLM" || (arch == "" && mt == "qwen3"):
		c.Arch, c.HFModelType, c.RopeNeoX, c.QKNorm = "qwen3", "qwen3", true, true
		c.AttentionBias = false
	case arch == "" && mt == "":
	default:
		return base, fmt.Errorf("config.json: architecture %q (model_type %q) is not supported (llama, mistral, qwen2, qwen3)", arch, mt)
	}
	var err error
	intKey := func(key string, dst *int) {
		v, ok := raw[key]
		if !ok || err != nil || v == nil {
			return
		}
		n, ok := v.(json.Number)
		i, e := n.Int64()
		if !ok || e != nil || i <= 0 || i > math.MaxInt32 {
			err = fmt.Errorf("config.json: %s = %v is not a positive integer", key, v)
			return
		}
		*dst = int(i)
	}
	floatKey := func(key string, dst *float64) {
		v, ok := raw[key]
		if !ok || err != nil || v == nil {
			return
		}
		n, ok := v.(json.Number)
		f, e := n.Float64()
		if !ok || e != nil || !(f > 0) || math.IsInf(f, 0) {
			err = fmt.Errorf("config.json: %s = %v is not a positive number", key, v)
			return
		}
		*dst = f
	}
	boolKey := func(key string, dst *bool) {
		if v, ok := raw[key]; ok && err == nil && v != nil {
			b, ok := v.(bool)
			if !ok {
				err = fmt.Errorf("config.json: %s = %v is not a boolean", key, v)
				return
			}
			*dst = b
		}
	}
	oldHeadDim, oldHidden, oldHeads := c.HeadDim, c.Hidden, c.Heads
	intKey("vocab_size", &c.VocabSize)
	intKey("hidden_size", &c.Hidden)
	intKey("intermediate_size", &c.FFN)
	intKey("num_hidden_layers", &c.Layers)
	intKey("num_attention_heads", &c.Heads)
	if _, ok := raw["num_key_value_heads"]; ok {
		intKey("num_key_value_heads", &c.KVHeads)
	} else if c.Heads != oldHeads {
		c.KVHeads = c.Heads
	}
	if _, ok := raw["head_dim"]; ok {
		intKey("head_dim", &c.HeadDim)
	} else if (c.Hidden != oldHidden || c.Heads != oldHeads || oldHeadDim == 0) && c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	intKey("max_position_embeddings", &c.ContextLength)
	floatKey("rms_norm_eps", &c.RMSNormEps)
	floatKey("rope_theta", &c.RopeTheta)
	boolKey("tie_word_embeddings", &c.TiedEmbeddings)
	if c.Arch == "llama" {
		boolKey("attention_bias", &c.AttentionBias)
	}
	if b, ok := raw["mlp_bias"].(bool); ok && b {
		return base, fmt.Errorf("config.json: mlp_bias is not supported")
	}
	if v, ok := raw["rope_scaling"]; ok && v != nil {
		rs, ok := v.(map[string]any)
		if !ok {
			return base, fmt.Errorf("config.json: rope_scaling is not an object")
		}
		t, _ := rs["rope_type"].(string)
		if t == "" {
			t, _ = rs["type"].(string)
		}
		f, _ := rs["factor"].(json.Number)
		factor, _ := f.Float64()
		switch t {
		case "default", "":
			c.RopeScaling = convert.RopeScaling{}
		case "linear":
			if !(factor > 0) {
				return base, fmt.Errorf("config.json: rope_scaling.factor must be positive")
			}
			c.RopeScaling = convert.RopeScaling{Type: "linear", Factor: factor}
		default:
			return base, fmt.Errorf("config.json: rope_scaling type %q is not supported for a new student (use a model folder that has it)", t)
		}
	}
	if err != nil {
		return base, err
	}
	c.RopeDim = c.HeadDim
	if sw, ok := raw["sliding_window"].(json.Number); ok {
		if v, e := sw.Int64(); e == nil && v > 0 {
			c.SlidingWindow = int(v)
		}
	}
	return c, nil
}

// ReadHFConfig reads ParseHFConfig's input from a file, or from the config.json of a folder.
func ReadHFConfig(path string, base convert.Config) (convert.Config, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = strings.TrimSuffix(path, "/") + "/config.json"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return base, badInputf("student config: %v", err)
	}
	if len(b) > 1<<20 {
		return base, badInputf("student config %s: %d bytes is not a config.json", path, len(b))
	}
	c, err := ParseHFConfig(b, base)
	if err != nil {
		return base, badInputf("student config %s: %v", path, err)
	}
	return c, nil
}

// Apply returns c with the overrides applied. Changing the width or the head count without
// giving HeadDim recomputes it as Hidden/Heads; changing Heads without KVHeads keeps the
// teacher's ratio when it divides, else uses no grouping.
func (o ConfigOverrides) Apply(c convert.Config) convert.Config {
	oldHeads := c.Heads
	if o.Layers > 0 {
		c.Layers = o.Layers
	}
	if o.Hidden > 0 {
		c.Hidden = o.Hidden
	}
	if o.Heads > 0 {
		c.Heads = o.Heads
	}
	if o.KVHeads > 0 {
		c.KVHeads = o.KVHeads
	} else if o.Heads > 0 && oldHeads > 0 && c.KVHeads > 0 {
		if g := oldHeads / c.KVHeads; g > 0 && o.Heads%g == 0 {
			c.KVHeads = o.Heads / g
		} else {
			c.KVHeads = o.Heads
		}
	}
	if o.HeadDim > 0 {
		c.HeadDim = o.HeadDim
	} else if (o.Hidden > 0 || o.Heads > 0) && c.Heads > 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	if o.FFN > 0 {
		c.FFN = o.FFN
	}
	if o.Tied != nil {
		c.TiedEmbeddings = *o.Tied
	}
	c.RopeDim = c.HeadDim
	return c
}

// IsZero reports whether no override is set.
func (o ConfigOverrides) IsZero() bool { return o == ConfigOverrides{} }
