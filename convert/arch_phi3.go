package convert

import (
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// phi3Arch converts Phi3ForCausalLM checkpoints (Phi-3/3.5-mini, Phi-4-mini) to GGUF
// architecture "phi3", as llama.cpp's Phi3MiniModel does: the fused qkv_proj and gate_up_proj
// are kept fused (attn_qkv with q, k and v rows; ffn_up with the gate rows then the up rows),
// RoPE is NeoX-ordered (no permutation) over the first partial_rotary_factor of each head, and
// LongRoPE's per-pair factors become the rope_factors_long/short tensors (with
// rope.scaling.attn_factor). The family writes its own hyperparameters; Phi-4-mini's GPT-2
// tokenizer is byte-level BPE, the others SentencePiece.
type phi3Arch struct{}

func init() { register(phi3Arch{}) }

func (phi3Arch) hfNames() []string { return []string{"Phi3ForCausalLM"} }
func (phi3Arch) ggufArch() string  { return "phi3" }
func (phi3Arch) modelType() string { return "phi3" }
func (phi3Arch) ownParams()        {}

// defaults are transformers' Phi3Config defaults.
func (phi3Arch) defaults() hfDefaults {
	return hfDefaults{contextLength: 4096, rmsNormEps: 1e-5, ropeTheta: 10000}
}

func (phi3Arch) permuteQK() bool { return false }

// attention: Phi-3 has neither q/k/v biases nor q/k norms.
func (phi3Arch) attention(*hparams, bool) (bool, bool, error) { return false, false, nil }

var phi3LayerTensors = map[string]string{
	"input_layernorm":          "attn_norm",
	"self_attn.qkv_proj":       "attn_qkv",
	"self_attn.o_proj":         "attn_output",
	"post_attention_layernorm": "ffn_norm",
	"mlp.gate_up_proj":         "ffn_up",
	"mlp.down_proj":            "ffn_down",
}

func (phi3Arch) tensors() map[string]string { return phi3LayerTensors }

func (phi3Arch) skipTensor(string) bool { return false }
func (phi3Arch) shift(string) float32   { return 0 }

// phi3Rope returns the rotated dimensions per head, int(partial_rotary_factor*hidden)//heads,
// and the original context length (original_max_position_embeddings, default 4096).
func phi3Rope(hp *hparams, c Config) (int, int, error) {
	rp := ropeParameters(hp, hfDefaults{ropeTheta: c.RopeTheta})
	pct, err := rp.floatOr("partial_rotary_factor", 1)
	if err != nil {
		return 0, 0, err
	}
	dims := int(math.Trunc(pct*float64(c.Hidden))) / c.Heads
	if dims <= 0 || dims > c.HeadDim || dims%2 != 0 {
		return 0, 0, fmt.Errorf("%w: %s: partial_rotary_factor %g gives %d rotated dimensions per head of %d (want an even number in 2..%d)", ErrBadInput, rp.path, pct, dims, c.HeadDim, c.HeadDim)
	}
	orig, err := rp.intOr("original_max_position_embeddings", 4096)
	if err != nil {
		return 0, 0, err
	}
	if orig <= 0 {
		return 0, 0, fmt.Errorf("%w: %s: original_max_position_embeddings %d must be positive", ErrBadInput, rp.path, orig)
	}
	return dims, orig, nil
}

// extraTensors computes LongRoPE's factor tensors as Phi3MiniModel.generate_extra_tensors
// does: none without long_factor; otherwise long then short, each RopeDim/2 float32 values,
// with rope.scaling.attn_factor. Unknown scaling types are refused.
func (phi3Arch) extraTensors(hp *hparams, c Config) ([]SourceTensor, []gguf.KV, error) {
	rp := ropeParameters(hp, hfDefaults{ropeTheta: c.RopeTheta})
	if !rp.has("long_factor") {
		return nil, nil, nil
	}
	dims, orig, err := phi3Rope(hp, c)
	if err != nil {
		return nil, nil, err
	}
	scale := float64(c.ContextLength) / float64(orig)
	typ := strings.ToLower(rp.str("rope_type"))
	attn := 1.0
	switch typ {
	case "":
		return nil, nil, fmt.Errorf("%w: %s: rope scaling has long_factor but no type", ErrBadInput, rp.path)
	case "su", "longrope":
		if scale > 1 {
			attn = math.Sqrt(1 + math.Log(scale)/math.Log(float64(orig)))
		}
	case "yarn":
		if scale > 1 {
			attn = 0.1*math.Log(scale) + 1
		}
	default:
		return nil, nil, fmt.Errorf("%w: %s: RoPE scaling type %q is not supported (want longrope, su or yarn)", ErrBadInput, rp.path, typ)
	}
	var out []SourceTensor
	for _, f := range []struct{ key, name string }{{"long_factor", "rope_factors_long.weight"}, {"short_factor", "rope_factors_short.weight"}} {
		list, ok := rp.raw(f.key).([]any)
		if !ok {
			return nil, nil, fmt.Errorf("%w: %s: %s missing or not a list", ErrBadInput, rp.path, f.key)
		}
		if 2*len(list) != dims {
			return nil, nil, fmt.Errorf("%w: %s: %s has %d values, want %d (half the %d rotated dimensions)", ErrBadInput, rp.path, f.key, len(list), dims/2, dims)
		}
		vals := make([]float32, len(list))
		for i, v := range list {
			x, ok := numberOf(v)
			if !ok {
				return nil, nil, fmt.Errorf("%w: %s: %s[%d] = %v is not a number", ErrBadInput, rp.path, f.key, i, v)
			}
			vals[i] = float32(x)
		}
		out = append(out, SourceTensor{Name: f.name, Dims: []uint64{uint64(len(vals))}, Type: gguf.TypeF32,
			HFDType: safetensors.F32, generated: vals, units: int64(len(vals)), unitElems: 1})
	}
	return out, []gguf.KV{{Key: "phi3.rope.scaling.attn_factor", Value: float32(attn)}}, nil
}

// params writes Phi3MiniModel.set_gguf_parameters' keys in its order (general.file_type as a
// placeholder the caller fills in).
func (phi3Arch) params(md *mdBuilder, hp *hparams, c Config) error {
	dims, orig, err := phi3Rope(hp, c)
	if err != nil {
		return err
	}
	if !hp.has("num_key_value_heads") && !hp.has("n_head_kv") {
		return fmt.Errorf("%w: %s: field \"num_key_value_heads\" missing", ErrBadInput, hp.path)
	}
	sw, err := hp.intOr("sliding_window", 0)
	if err != nil {
		return err
	}
	md.u32(md.key("context_length"), c.ContextLength)
	md.u32(md.key("rope.scaling.original_context_length"), orig)
	md.u32(md.key("embedding_length"), c.Hidden)
	md.u32(md.key("feed_forward_length"), c.FFN)
	md.u32(md.key("block_count"), c.Layers)
	md.u32(md.key("attention.head_count"), c.Heads)
	md.u32(md.key("attention.head_count_kv"), c.KVHeads)
	md.f32(md.key("attention.layer_norm_rms_epsilon"), c.RMSNormEps)
	md.u32(md.key("rope.dimension_count"), dims)
	md.f32(md.key("rope.freq_base"), c.RopeTheta)
	md.u32("general.file_type", 0)
	md.u32(md.key("attention.sliding_window"), sw)
	return nil
}

// vocab follows Phi3MiniModel.set_vocab: byte-level BPE for a GPT2Tokenizer (Phi-4-mini), else
// SentencePiece padded to vocab_size, where added tokens (added_tokens.json, then
// tokenizer_config.json's added_tokens_decoder, then tokenizer.json's added_tokens) score
// -1000 and are control tokens when special, user-defined otherwise.
func (phi3Arch) vocab(md *mdBuilder, dir string, hp *hparams, c Config, opts Options) error {
	tc, err := readJSONObject(filepath.Join(dir, "tokenizer_config.json"), true)
	if err != nil {
		return err
	}
	if tc.str("tokenizer_class") == "GPT2Tokenizer" {
		return gpt2Vocab(md, dir, c, opts)
	}
	path := filepath.Join(dir, "tokenizer.model")
	if !fileExists(path) {
		return fmt.Errorf("%w: %s: missing (Phi-3 needs a SentencePiece tokenizer unless tokenizer_class is GPT2Tokenizer)", ErrBadInput, path)
	}
	m, err := ReadSPM(path)
	if err != nil {
		return err
	}
	n := len(m.Pieces)
	if hp.has("vocab_size") {
		if n, err = hp.int("vocab_size"); err != nil {
			return err
		}
	}
	tokens := make([]string, n)
	scores := make([]float32, n)
	types := make([]int32, n)
	for i := range tokens {
		tokens[i], scores[i], types[i] = fmt.Sprintf("[PAD%d]", i), -10000, TokenUnused
	}
	for id, p := range m.Pieces {
		if id >= n {
			return fmt.Errorf("%w: %s: %d pieces but vocab_size is %d", ErrBadInput, path, len(m.Pieces), n)
		}
		t := int32(TokenNormal)
		switch p.Type {
		case TokenUnknown, TokenControl, TokenUnused, TokenByte:
			t = p.Type
		}
		tokens[id], scores[id], types[id] = p.Piece, p.Score, t
	}
	added := func(id int64, content string, special bool, where string) error {
		if id < 0 || id >= int64(n) {
			return fmt.Errorf("%w: %s: added token %d out of range (vocabulary %d)", ErrBadInput, where, id, n)
		}
		tokens[id], scores[id], types[id] = content, -1000, TokenUserDefined
		if special {
			types[id] = TokenControl
		}
		return nil
	}
	if ap := filepath.Join(dir, "added_tokens.json"); fileExists(ap) {
		b, err := os.ReadFile(ap)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrBadInput, err)
		}
		pairs, err := orderedObject(b)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadInput, ap, err)
		}
		for _, p := range pairs {
			if id, ok := intOf(p.val); ok && id >= 0 && id < int64(n) {
				tokens[id], scores[id], types[id] = p.key, -1000, TokenUserDefined
			}
		}
	}
	if dec := tc.obj("added_tokens_decoder"); dec != nil {
		for _, k := range sortedIDKeys(dec.m) {
			e, _ := dec.m[k].(map[string]any)
			var id int64
			fmt.Sscan(k, &id)
			content, _ := e["content"].(string)
			special, _ := e["special"].(bool)
			if err := added(id, content, special, tc.path); err != nil {
				return err
			}
		}
	}
	if t, err := readJSONObject(filepath.Join(dir, "tokenizer.json"), true); err != nil {
		return err
	} else if t != nil {
		list, _ := t.raw("added_tokens").([]any)
		for _, v := range list {
			e, _ := v.(map[string]any)
			id, ok := intOf(e["id"])
			if !ok {
				return fmt.Errorf("%w: %s: added token without an integer id", ErrBadInput, t.path)
			}
			content, _ := e["content"].(string)
			special, _ := e["special"].(bool)
			if err := added(id, content, special, t.path); err != nil {
				return err
			}
		}
	}
	md.str("tokenizer.ggml.model", "llama")
	md.str("tokenizer.ggml.pre", "default")
	writeTokenList(md, tokens, scores, types)
	sv, err := loadSpecialVocab(dir, false, len(tokens), nil)
	if err != nil {
		return err
	}
	sv.write(md)
	return nil
}

// sortedIDKeys returns the keys of an added_tokens_decoder object in JSON order; Go maps lose
// it, so the numeric order (which tokenizer_config.json files use) stands in for it.
func sortedIDKeys(m map[string]any) []string {
	type idk struct {
		id int64
		k  string
	}
	var ids []idk
	for k := range m {
		var id int64
		if _, err := fmt.Sscan(k, &id); err == nil {
			ids = append(ids, idk{id, k})
		}
	}
	sort.Slice(ids, func(a, b int) bool { return ids[a].id < ids[b].id })
	out := make([]string, len(ids))
	for i, x := range ids {
		out[i] = x.k
	}
	return out
}

func (phi3Arch) configFromGGUF(c *Config, md gguf.Metadata, tensors []gguf.TensorInfo) {
	c.SlidingWindow, c.SWAPattern = 0, 0 // llama.cpp disables Phi-3's window
	for _, t := range tensors {
		if t.Name == "rope_factors_long.weight" {
			c.RopeScaling = RopeScaling{Type: "longrope"}
			if v, ok := md.Uint("phi3.rope.scaling.original_context_length"); ok {
				c.RopeScaling.OriginalContext = int(v)
			}
			c.RopeScaling.AttnFactor, _ = md.Float("phi3.rope.scaling.attn_factor")
		}
	}
}

func (phi3Arch) ggufKeys(c Config) gguf.Metadata {
	if c.RopeScaling.Type != "longrope" {
		return nil
	}
	return gguf.Metadata{
		{Key: "phi3.rope.scaling.original_context_length", Value: uint32(c.RopeScaling.OriginalContext)},
		{Key: "phi3.rope.scaling.attn_factor", Value: float32(c.RopeScaling.AttnFactor)},
	}
}

func (phi3Arch) configFromHF(c *Config, hp *hparams) error {
	c.SlidingWindow, c.SWAPattern = 0, 0
	if c.Hidden == 0 || c.Heads == 0 {
		return nil
	}
	if !hp.has("head_dim") {
		c.HeadDim = c.Hidden / c.Heads
	}
	dims, orig, err := phi3Rope(hp, *c)
	if err != nil {
		return err
	}
	c.RopeDim = dims
	rp := ropeParameters(hp, hfDefaults{ropeTheta: c.RopeTheta})
	if rp.has("long_factor") {
		typ := strings.ToLower(rp.str("rope_type"))
		if typ != "su" && typ != "longrope" {
			return fmt.Errorf("%w: %s: RoPE scaling type %q is not supported for Phi-3 (want longrope)", ErrBadInput, rp.path, typ)
		}
		c.RopeScaling = RopeScaling{Type: "longrope", OriginalContext: orig, AttnFactor: 1}
		if scale := float64(c.ContextLength) / float64(orig); scale > 1 {
			c.RopeScaling.AttnFactor = float64(float32(math.Sqrt(1 + math.Log(scale)/math.Log(float64(orig)))))
		}
	}
	return nil
}

func (phi3Arch) hfConfig(cfg *orderedJSON, c Config, md gguf.Metadata) {
	cfg.set("architectures", []any{"Phi3ForCausalLM"})
	cfg.set("model_type", "phi3")
	cfg.set("hidden_act", "silu")
	cfg.set("partial_rotary_factor", float64(c.RopeDim)/float64(c.HeadDim))
	if v, ok := md.Uint("phi3.rope.scaling.original_context_length"); ok {
		cfg.set("original_max_position_embeddings", int(v))
	}
	if v, ok := md.Uint("phi3.attention.sliding_window"); ok && v > 0 {
		cfg.set("sliding_window", int(v))
	} else {
		cfg.set("sliding_window", nil)
	}
}
