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
	if tc, ok := hp.m["text_config"].(map[string]any); ok {
		merged := make(map[string]any, len(hp.m)+len(tc))
		for k, v := range hp.m {
			merged[k] = v
		}
		for k, v := range tc {
			merged[k] = v
		}
		hp.m = merged
	}
	return hp, nil
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
