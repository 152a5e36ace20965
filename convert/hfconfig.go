package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
)

// maxJSONSize bounds the JSON side files (config.json, tokenizer.json, ...) read into memory.
const maxJSONSize = 1 << 30

// hparams is a parsed JSON object (config.json, tokenizer_config.json ...) with accessors that
// name the file and the field in their errors. Numbers keep their JSON spelling so integers and
// floats are told apart as Python's json module does.
type hparams struct {
	path string
	m    map[string]any
}

// readJSONObject reads the JSON object in path. A missing file gives (nil, nil) when optional.
func readJSONObject(path string, optional bool) (*hparams, error) {
	st, err := os.Stat(path)
	if err != nil {
		if optional && errors.Is(err, os.ErrNotExist) {
			return nil, nil
		}
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	if st.Size() > maxJSONSize {
		return nil, fmt.Errorf("%w: %s: %d bytes, over the %d-byte limit for JSON files", ErrBadInput, path, st.Size(), maxJSONSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	return parseJSONObject(b, path)
}

// parseJSONObject parses the JSON object b read from path (named in errors).
func parseJSONObject(b []byte, path string) (*hparams, error) {
	var m map[string]any
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if err := dec.Decode(&m); err != nil {
		return nil, fmt.Errorf("%w: %s: not a JSON object: %v", ErrBadInput, path, err)
	}
	if m == nil {
		return nil, fmt.Errorf("%w: %s: not a JSON object", ErrBadInput, path)
	}
	return &hparams{path: path, m: m}, nil
}

// readConfig reads dir/config.json, merging a text_config sub-object over the top level as
// llama.cpp does.
func readConfig(dir string) (*hparams, error) {
	hp, err := readJSONObject(filepath.Join(dir, "config.json"), false)
	if err != nil {
		return nil, err
	}
	mergeTextConfig(hp)
	return hp, nil
}

// mergeTextConfig merges a text_config sub-object over the top level, as llama.cpp does for
// multimodal checkpoints.
func mergeTextConfig(hp *hparams) {
	tc, ok := hp.m["text_config"].(map[string]any)
	if !ok {
		return
	}
	merged := make(map[string]any, len(hp.m)+len(tc))
	for k, v := range hp.m {
		merged[k] = v
	}
	for k, v := range tc {
		merged[k] = v
	}
	hp.m = merged
}

// has reports whether key is present and not null.
func (h *hparams) has(key string) bool {
	if h == nil {
		return false
	}
	v, ok := h.m[key]
	return ok && v != nil
}

// raw returns the value of key (nil when absent or null).
func (h *hparams) raw(key string) any {
	if h == nil {
		return nil
	}
	return h.m[key]
}

// find returns the first of keys present (llama.cpp's find_hparam).
func (h *hparams) find(keys ...string) (string, bool) {
	for _, k := range keys {
		if h.has(k) {
			return k, true
		}
	}
	return "", false
}

// intOf converts a JSON number to an int64 when it is integral.
func intOf(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	if i, err := n.Int64(); err == nil {
		return i, true
	}
	return 0, false
}

// floatOf converts a JSON number (integer or not) to float64.
func floatOf(v any) (float64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	f, err := n.Float64()
	return f, err == nil
}

// isJSONInt reports whether v is a JSON number written without a fraction or exponent.
func isJSONInt(v any) bool {
	_, ok := intOf(v)
	return ok
}

// int returns the integer field key, an error naming the file and field when it is absent or
// not a non-negative integer below 2^31.
func (h *hparams) int(key string) (int, error) {
	v := h.raw(key)
	if v == nil {
		return 0, fmt.Errorf("%w: %s: field %q missing", ErrBadInput, h.path, key)
	}
	i, ok := intOf(v)
	if !ok || i < 0 || i > math.MaxInt32 {
		return 0, fmt.Errorf("%w: %s: field %q = %v is not a non-negative integer", ErrBadInput, h.path, key, v)
	}
	return int(i), nil
}

// intFirst returns the first present of keys as an integer.
func (h *hparams) intFirst(keys ...string) (int, string, error) {
	k, ok := h.find(keys...)
	if !ok {
		if len(keys) == 1 {
			return 0, "", fmt.Errorf("%w: %s: field %q missing", ErrBadInput, h.path, keys[0])
		}
		return 0, "", fmt.Errorf("%w: %s: none of the fields %q is present", ErrBadInput, h.path, keys)
	}
	v, err := h.int(k)
	return v, k, err
}

// intOr returns the integer field key, or def when absent.
func (h *hparams) intOr(key string, def int) (int, error) {
	if !h.has(key) {
		return def, nil
	}
	return h.int(key)
}

// float returns the number field key, or def when absent.
func (h *hparams) floatOr(key string, def float64) (float64, error) {
	v := h.raw(key)
	if v == nil {
		return def, nil
	}
	f, ok := floatOf(v)
	if !ok {
		return 0, fmt.Errorf("%w: %s: field %q = %v is not a number", ErrBadInput, h.path, key, v)
	}
	return f, nil
}

// bool returns the boolean field key, def when absent or null, and an error naming the file and
// the field when it is not a boolean.
func (h *hparams) bool(key string, def bool) (bool, error) {
	v := h.raw(key)
	if v == nil {
		return def, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, fmt.Errorf("%w: %s: field %q = %v is not a boolean", ErrBadInput, h.path, key, v)
	}
	return b, nil
}

// boolOr returns the boolean field key, or def when absent or not a boolean.
func (h *hparams) boolOr(key string, def bool) bool {
	if b, ok := h.raw(key).(bool); ok {
		return b
	}
	return def
}

// str returns the string field key ("" when absent or not a string).
func (h *hparams) str(key string) string {
	s, _ := h.raw(key).(string)
	return s
}

// obj returns the object field key as hparams (nil when absent or not an object).
func (h *hparams) obj(key string) *hparams {
	m, ok := h.raw(key).(map[string]any)
	if !ok {
		return nil
	}
	return &hparams{path: h.path + ": " + key, m: m}
}

// strings returns the string array field key.
func (h *hparams) strings(key string) []string {
	a, _ := h.raw(key).([]any)
	var out []string
	for _, v := range a {
		if s, ok := v.(string); ok {
			out = append(out, s)
		}
	}
	return out
}

// ParseHFConfig reads a Hugging Face config.json (data, named name in errors) on top of base:
// fields present in the JSON replace base's values and absent ones keep them, so a config may
// give only what it changes (a student's dimensions over its teacher's vocabulary, norms and
// RoPE). This is the one reader of config.json: it takes the same keys, in the same order of
// preference, as a conversion does (llama.cpp's find_hparam lists), and the family from the
// same table of architectures.
//
// The family is config.json's first "architectures" entry or, failing that, its model_type; a
// config naming neither keeps base's. An unknown family is refused with the list of supported
// ones. A family fixes what it always has (qwen2's q/k/v biases, qwen3's q/k norms) and reads
// attention_bias where transformers does; when it differs from base's, absent flags take the
// family's defaults rather than base's. As in transformers, changing num_attention_heads
// without num_key_value_heads means no grouping, and changing hidden_size or the heads without
// head_dim makes the head width hidden_size/heads. A text_config sub-object is merged over the
// top level. Values given must be positive, but the result is not checked as a whole (overrides
// may follow): callers validate the configuration they finish with. Errors wrap ErrBadInput and
// name the file and the field.
func ParseHFConfig(data []byte, name string, base Config) (Config, error) {
	hp, err := parseJSONObject(data, name)
	if err != nil {
		return base, fmt.Errorf("convert: %w", err)
	}
	return configOver(hp, base)
}

// ReadHFConfig reads ParseHFConfig's input from path, a config.json file or a folder holding
// one.
func ReadHFConfig(path string, base Config) (Config, error) {
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		path = filepath.Join(path, "config.json")
	}
	hp, err := readJSONObject(path, false)
	if err != nil {
		return base, fmt.Errorf("convert: %w", err)
	}
	return configOver(hp, base)
}

// configOver is ParseHFConfig after parsing.
func configOver(hp *hparams, base Config) (Config, error) {
	mergeTextConfig(hp)
	a, err := lookupArchOrType(hp)
	if err != nil {
		return base, fmt.Errorf("convert: %w", err)
	}
	c, err := hfConfigOver(hp, a, &base)
	if err != nil {
		return base, fmt.Errorf("convert: %w", err)
	}
	return c, nil
}

// configFromHF reads the Config of a complete Hugging Face config.json of family a. Fields
// llama.cpp needs and transformers has no default for are required; the error names the field
// and the file.
func configFromHF(hp *hparams, a architecture) (Config, error) {
	return hfConfigOver(hp, a, nil)
}

// hfConfigOver reads the Config of config.json hp over base (nil: a complete config.json, whose
// absent fields take family a's defaults or are required). a is nil when the config names no
// family (then base's is kept).
func hfConfigOver(hp *hparams, a architecture, base *Config) (Config, error) {
	c := Config{BOS: -1, EOS: -1}
	var def hfDefaults
	switch {
	case base == nil:
		def = a.defaults()
		c.ContextLength, c.RMSNormEps = def.contextLength, def.rmsNormEps
	default:
		c = *base
		def = hfDefaults{contextLength: c.ContextLength, rmsNormEps: c.RMSNormEps, ropeTheta: c.RopeTheta}
	}
	if a != nil {
		sameFamily := base != nil && base.Arch == a.ggufArch()
		c.Arch, c.HFModelType, c.RopeNeoX = a.ggufArch(), hp.str("model_type"), !a.permuteQK()
		if c.HFModelType == "" {
			c.HFModelType = a.modelType()
		}
		biasDef := sameFamily && c.AttentionBias
		var err error
		if c.AttentionBias, c.QKNorm, err = a.attention(hp, biasDef); err != nil {
			return Config{}, err
		}
	}
	if k, ok := hp.find(keysExperts...); ok {
		return Config{}, fmt.Errorf("%w: %s: field %q: mixture-of-experts models are not supported", ErrBadInput, hp.path, k)
	}
	if mlpBias, err := hp.bool("mlp_bias", false); err != nil || mlpBias {
		if err == nil {
			err = fmt.Errorf("%w: %s: field \"mlp_bias\": MLP biases are not supported", ErrBadInput, hp.path)
		}
		return Config{}, err
	}
	// intField sets *dst from the first present of keys; absent, a complete config.json fails
	// when required and the value stays otherwise. Over a base, a present value must be
	// positive (a complete config.json is checked as a whole by Validate).
	intField := func(dst *int, required bool, keys ...string) error {
		if _, ok := hp.find(keys...); !ok && (base != nil || !required) {
			return nil
		}
		v, k, err := hp.intFirst(keys...)
		if err == nil && base != nil && v == 0 {
			err = fmt.Errorf("%w: %s: field %q is 0", ErrBadInput, hp.path, k)
		}
		if err == nil {
			*dst = v
		}
		return err
	}
	oldHidden, oldHeads, oldHeadDim := c.Hidden, c.Heads, c.HeadDim
	for _, f := range []struct {
		dst  *int
		keys []string
	}{
		{&c.Layers, keysLayers}, {&c.Hidden, keysHidden}, {&c.FFN, keysFFN},
		{&c.Heads, keysHeads}, {&c.VocabSize, []string{"vocab_size"}},
	} {
		if err := intField(f.dst, true, f.keys...); err != nil {
			return Config{}, err
		}
	}
	if _, ok := hp.find(keysKVHeads...); ok {
		if err := intField(&c.KVHeads, false, keysKVHeads...); err != nil {
			return Config{}, err
		}
	} else if c.Heads != oldHeads {
		c.KVHeads = c.Heads
	}
	if err := intField(&c.ContextLength, false, keysContext...); err != nil {
		return Config{}, err
	}
	if c.Heads == 0 {
		return Config{}, fmt.Errorf("%w: %s: num_attention_heads is 0", ErrBadInput, hp.path)
	}
	if hp.has("head_dim") {
		if err := intField(&c.HeadDim, false, "head_dim"); err != nil {
			return Config{}, err
		}
	} else if c.Hidden != oldHidden || c.Heads != oldHeads || oldHeadDim == 0 {
		c.HeadDim = c.Hidden / c.Heads
	}
	c.RopeDim = c.HeadDim
	if k, ok := hp.find(keysRMSEps...); ok {
		var err error
		if c.RMSNormEps, err = hp.floatOr(k, def.rmsNormEps); err != nil {
			return Config{}, err
		}
	}
	rp := ropeParameters(hp, def)
	theta, ok := numberOf(rp.raw("rope_theta"))
	if !ok {
		return Config{}, fmt.Errorf("%w: %s: rope_theta %v is not a number", ErrBadInput, rp.path, rp.raw("rope_theta"))
	}
	c.RopeTheta = theta
	if _, ok := hp.find("rope_parameters", "rope_scaling"); ok || base == nil {
		var err error
		if c.RopeScaling, err = ropeScaling(rp); err != nil {
			return Config{}, err
		}
	}
	var err error
	if c.TiedEmbeddings, err = hp.bool("tie_word_embeddings", c.TiedEmbeddings); err != nil {
		return Config{}, err
	}
	if sw, ok := intOf(hp.raw("sliding_window")); ok && sw > 0 && sw <= math.MaxInt32 {
		c.SlidingWindow = int(sw)
	}
	fam := a
	if fam == nil {
		fam, _ = ggufFamily(c.Arch)
	}
	if e, ok := fam.(extendedArch); ok {
		if err := e.configFromHF(&c, hp); err != nil {
			return Config{}, err
		}
	}
	if base != nil {
		// Over a base the result may be one step of several (overrides may follow), so it is
		// not validated as a whole; values given must still make sense on their own.
		if !(c.RMSNormEps > 0) || !(c.RopeTheta > 0) {
			return Config{}, fmt.Errorf("%w: %s: rms_norm_eps %g and rope_theta %g must be positive", ErrBadInput, hp.path, c.RMSNormEps, c.RopeTheta)
		}
		return c, nil
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("%w: %s: %v", ErrBadInput, hp.path, err)
	}
	return c, nil
}
