// Package convert moves models between Hugging Face checkpoint folders (safetensors plus
// config.json and tokenizer files) and GGUF, the way llama.cpp's convert_hf_to_gguf.py does, and
// back. It holds the one Config that describes a model everywhere in mcompress and the table
// of supported architectures, one file per architecture.
package convert

import (
	"fmt"
	"math"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// RopeScaling describes RoPE frequency scaling. The zero value means none.
type RopeScaling struct {
	// Type is "" (none), "linear", "yarn" or "llama3".
	Type string // or "longrope" (Phi-3: per-pair factors stored as rope_factors_long/short tensors)
	// Factor is the context extension factor.
	Factor float64
	// OriginalContext is the pre-training context length (yarn, llama3).
	OriginalContext int
	// LowFreqFactor and HighFreqFactor are the llama3 band limits.
	LowFreqFactor, HighFreqFactor float64
	// AttnFactor multiplies RoPE's cos and sin (LongRoPE's magnitude correction, GGUF
	// rope.scaling.attn_factor); 0 means 1.
	AttnFactor float64
}

// Config describes a transformer of the llama family (llama, mistral, qwen2, qwen3) with the
// numbers every stage needs. Dimensions are counts, not bytes.
type Config struct {
	// Arch is the GGUF architecture name: "llama", "qwen2" or "qwen3" (mistral is "llama").
	Arch string
	// HFModelType is config.json's model_type ("llama", "mistral", "qwen2", "qwen3").
	HFModelType string
	// Name is a human-readable model name (general.name).
	Name string

	VocabSize      int     // tokens in the embedding table
	Hidden         int     // embedding width (hidden_size)
	Layers         int     // transformer blocks
	Heads          int     // attention (query) heads
	KVHeads        int     // key/value heads (== Heads without GQA)
	HeadDim        int     // per-head width; Hidden/Heads unless set explicitly (qwen3)
	FFN            int     // MLP intermediate size
	ContextLength  int     // max_position_embeddings
	RMSNormEps     float64 // epsilon of every RMSNorm
	RopeTheta      float64 // RoPE base frequency
	RopeDim        int     // rotated dimensions per head (== HeadDim for these families)
	RopeNeoX       bool    // true for NeoX (rotate_half) ordering in GGUF space (qwen2/3); false for llama's interleaved pairs
	RopeScaling    RopeScaling
	TiedEmbeddings bool // output projection shares token_embd
	AttentionBias  bool // q/k/v projections have biases (qwen2)
	QKNorm         bool // per-head RMSNorm on q and k (qwen3)
	SlidingWindow  int  // attention window of the local layers (see SWAPattern); 0 if none
	BOS, EOS       int  // special token ids; -1 if absent

	// The Gemma 2/3 extras (all zero for the other families).
	EmbedScale   bool    // token embeddings are multiplied by sqrt(Hidden)
	PostNorms    bool    // RMSNorms after attention and after the FFN, before each residual add
	GELU         bool    // the FFN is GeGLU (tanh-approximate GELU) rather than SwiGLU
	AttnSoftcap  float64 // attention scores become cap·tanh(score/cap); 0 means none
	FinalSoftcap float64 // output logits likewise; 0 means none
	// SWAPattern is the period of the local (sliding-window) layers: with SlidingWindow > 0,
	// layer i attends to the last SlidingWindow positions only when i%SWAPattern <
	// SWAPattern-1, as llama.cpp's set_swa_pattern. 0 means no layer is windowed (mistral's
	// window is recorded but, as in llama.cpp, not applied).
	SWAPattern int
	// RopeThetaSWA is the RoPE base of the local layers; 0 means RopeTheta.
	RopeThetaSWA float64
	// AttnScale multiplies the queries before attention; 0 means 1/sqrt(HeadDim).
	AttnScale float64
}

// LocalLayer reports whether layer i uses sliding-window attention (see SWAPattern).
func (c Config) LocalLayer(i int) bool {
	return c.SlidingWindow > 0 && c.SWAPattern > 0 && i%c.SWAPattern < c.SWAPattern-1
}

// QueryScale returns the factor queries are multiplied by before attention.
func (c Config) QueryScale() float64 {
	if c.AttnScale > 0 {
		return c.AttnScale
	}
	return 1 / math.Sqrt(float64(c.HeadDim))
}

// QDim returns the width of the query projection (Heads*HeadDim).
func (c Config) QDim() int { return c.Heads * c.HeadDim }

// KVDim returns the width of the key and value projections (KVHeads*HeadDim).
func (c Config) KVDim() int { return c.KVHeads * c.HeadDim }

// Validate reports the first inconsistency in c.
func (c Config) Validate() error {
	switch {
	case c.Arch == "":
		return fmt.Errorf("config: architecture not set")
	case c.VocabSize <= 0, c.Hidden <= 0, c.Layers <= 0, c.Heads <= 0, c.KVHeads <= 0, c.HeadDim <= 0, c.FFN <= 0:
		return fmt.Errorf("config: vocab %d, hidden %d, layers %d, heads %d, kv heads %d, head dim %d, ffn %d must all be positive",
			c.VocabSize, c.Hidden, c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.FFN)
	case c.Heads%c.KVHeads != 0:
		return fmt.Errorf("config: %d heads is not a multiple of %d KV heads", c.Heads, c.KVHeads)
	case c.HeadDim%2 != 0:
		return fmt.Errorf("config: head dimension %d is odd; RoPE needs pairs", c.HeadDim)
	case c.RopeDim <= 0 || c.RopeDim > c.HeadDim:
		return fmt.Errorf("config: RoPE dimension %d out of range (head dim %d)", c.RopeDim, c.HeadDim)
	case c.RMSNormEps <= 0:
		return fmt.Errorf("config: rms_norm_eps %g must be positive", c.RMSNormEps)
	case c.RopeTheta <= 0:
		return fmt.Errorf("config: rope theta %g must be positive", c.RopeTheta)
	}
	return nil
}

// NumParams returns the number of parameters of a model with this config (weights and norms,
// counting tied embeddings once).
func (c Config) NumParams() int64 {
	h, q, kv, f := int64(c.Hidden), int64(c.QDim()), int64(c.KVDim()), int64(c.FFN)
	per := h*q + 2*h*kv + q*h + 3*h*f + 2*h
	if c.AttentionBias {
		per += q + 2*kv
	}
	if c.QKNorm {
		per += 2 * int64(c.HeadDim)
	}
	if c.PostNorms {
		per += 2 * h
	}
	n := int64(c.Layers)*per + int64(c.VocabSize)*h + h
	if !c.TiedEmbeddings {
		n += int64(c.VocabSize) * h
	}
	return n
}

// ConfigFromGGUF reads a Config from GGUF metadata (the keys llama.cpp writes). tensors, which
// may be nil, is used to detect a tied output (no output.weight), q/k/v biases and q/k norms,
// and the vocabulary size when the metadata lacks {arch}.vocab_size.
func ConfigFromGGUF(md gguf.Metadata, tensors []gguf.TensorInfo) (Config, error) {
	arch, ok := md.String("general.architecture")
	if !ok {
		return Config{}, fmt.Errorf("gguf metadata: general.architecture missing")
	}
	a, ok := ggufFamily(arch)
	if !ok {
		return Config{}, fmt.Errorf("gguf metadata: unsupported architecture %q (supported: %s)", arch, strings.Join(SupportedGGUFArchitectures(), ", "))
	}
	c := Config{Arch: arch, RopeNeoX: !a.permuteQK(), BOS: -1, EOS: -1, RMSNormEps: 1e-5, RopeTheta: 10000}
	c.HFModelType = a.modelType()
	c.Name, _ = md.String("general.name")
	need := func(key string) (int, error) {
		v, ok := md.Uint(arch + "." + key)
		if !ok || v > 1<<31 {
			return 0, fmt.Errorf("gguf metadata: %s.%s missing or out of range", arch, key)
		}
		return int(v), nil
	}
	opt := func(key string, def int) int {
		if v, ok := md.Uint(arch + "." + key); ok && v <= 1<<31 {
			return int(v)
		}
		return def
	}
	var err error
	if c.Layers, err = need("block_count"); err != nil {
		return Config{}, err
	}
	if c.Hidden, err = need("embedding_length"); err != nil {
		return Config{}, err
	}
	if c.FFN, err = need("feed_forward_length"); err != nil {
		return Config{}, err
	}
	if c.Heads, err = need("attention.head_count"); err != nil {
		return Config{}, err
	}
	c.KVHeads = opt("attention.head_count_kv", c.Heads)
	c.ContextLength = opt("context_length", 2048)
	if c.Heads > 0 {
		c.HeadDim = opt("attention.key_length", c.Hidden/c.Heads)
	}
	c.RopeDim = opt("rope.dimension_count", c.HeadDim)
	if v, ok := md.Float(arch + ".attention.layer_norm_rms_epsilon"); ok {
		c.RMSNormEps = v
	}
	if v, ok := md.Float(arch + ".rope.freq_base"); ok {
		c.RopeTheta = v
	}
	if t, ok := md.String(arch + ".rope.scaling.type"); ok && t != "none" {
		c.RopeScaling.Type = t
		c.RopeScaling.Factor, _ = md.Float(arch + ".rope.scaling.factor")
		c.RopeScaling.OriginalContext = opt("rope.scaling.original_context_length", 0)
	}
	c.SlidingWindow = opt("attention.sliding_window", 0)
	if v, ok := md.Uint("tokenizer.ggml.bos_token_id"); ok {
		c.BOS = int(v)
	}
	if v, ok := md.Uint("tokenizer.ggml.eos_token_id"); ok {
		c.EOS = int(v)
	}
	c.VocabSize = opt("vocab_size", 0)
	if c.VocabSize == 0 {
		if toks, ok := md.Strings("tokenizer.ggml.tokens"); ok {
			c.VocabSize = len(toks)
		}
	}
	if tensors != nil {
		names := make(map[string]gguf.TensorInfo, len(tensors))
		for _, t := range tensors {
			names[t.Name] = t
		}
		_, hasOutput := names["output.weight"]
		c.TiedEmbeddings = !hasOutput
		_, c.AttentionBias = names["blk.0.attn_q.bias"]
		_, c.QKNorm = names["blk.0.attn_q_norm.weight"]
		if c.VocabSize == 0 {
			if t, ok := names["token_embd.weight"]; ok && len(t.Dims) == 2 {
				c.VocabSize = int(t.Dims[1])
			}
		}
		if _, ok := names["rope_freqs.weight"]; ok && c.RopeScaling.Type == "" {
			c.RopeScaling.Type = "llama3" // frequencies stored as a tensor, as llama.cpp writes them
		}
	}
	if e, ok := a.(extendedArch); ok {
		e.configFromGGUF(&c, md, tensors)
	}
	if err := c.Validate(); err != nil {
		return Config{}, fmt.Errorf("gguf metadata: %w", err)
	}
	return c, nil
}
