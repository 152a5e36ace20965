package runtime

import (
	"encoding/binary"
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
)

// RandomModelOptions describe a model of random weights written by WriteRandomModel.
type RandomModelOptions struct {
	// Config gives the architecture and sizes (Arch "llama", "qwen2", "qwen3", "gemma2",
	// "gemma3" or "phi3"; see RandomConfig for shapes of each).
	Config convert.Config
	// Type is the storage type of the weight matrices: F32, F16, BF16, Q8_0, Q4_0, Q4_K, ...
	// With Mixed set, attn_v, ffn_down and the output use Q6_K as llama.cpp's Q4_K_M mix does.
	Type  gguf.TensorType
	Mixed bool
	// Seed makes the weights reproducible.
	Seed uint64
}

// WriteRandomModel writes a GGUF model of random weights (random quantized blocks with sane
// scales) to path, for benchmarks and tests that need a model of a given size and type but
// not a trained one. Its vocabulary is a placeholder SentencePiece one (<unk>, <s>, </s>, the
// 256 byte tokens, "▁", then "▁tN"), enough for llama.cpp to load the file and for byte-level
// tokenization; it is written when VocabSize >= 260.
func WriteRandomModel(path string, o RandomModelOptions) error {
	c := o.Config
	if err := c.Validate(); err != nil {
		return fmt.Errorf("runtime: %w", err)
	}
	if o.Type.Quantized() {
		if _, ok := blockScales[o.Type]; !ok {
			return fmt.Errorf("runtime: random %s weights not supported", o.Type)
		}
	}
	a := c.Arch
	md := gguf.Metadata{
		{Key: "general.architecture", Value: a},
		{Key: "general.name", Value: "random"},
		{Key: a + ".block_count", Value: uint32(c.Layers)},
		{Key: a + ".context_length", Value: uint32(c.ContextLength)},
		{Key: a + ".embedding_length", Value: uint32(c.Hidden)},
		{Key: a + ".feed_forward_length", Value: uint32(c.FFN)},
		{Key: a + ".attention.head_count", Value: uint32(c.Heads)},
		{Key: a + ".attention.head_count_kv", Value: uint32(c.KVHeads)},
		{Key: a + ".attention.key_length", Value: uint32(c.HeadDim)},
		{Key: a + ".attention.value_length", Value: uint32(c.HeadDim)},
		{Key: a + ".rope.dimension_count", Value: uint32(c.RopeDim)},
		{Key: a + ".rope.freq_base", Value: float32(c.RopeTheta)},
		{Key: a + ".attention.layer_norm_rms_epsilon", Value: float32(c.RMSNormEps)},
		{Key: a + ".vocab_size", Value: uint32(c.VocabSize)},
	}
	if t := c.RopeScaling.Type; t == "linear" || t == "yarn" {
		md = append(md, gguf.KV{Key: a + ".rope.scaling.type", Value: t},
			gguf.KV{Key: a + ".rope.scaling.factor", Value: float32(c.RopeScaling.Factor)})
		if t == "yarn" {
			md = append(md, gguf.KV{Key: a + ".rope.scaling.original_context_length", Value: uint32(c.RopeScaling.OriginalContext)})
		}
	}
	md = append(md, convert.FamilyKeys(c)...)
	if c.VocabSize >= 260 {
		md = append(md, placeholderVocab(c.VocabSize)...)
	}
	type spec struct {
		name string
		dims []uint64
		typ  gguf.TensorType
	}
	var specs []spec
	mat := func(name string, rows, cols int, t gguf.TensorType) {
		if t.Quantized() && cols%t.BlockSize() != 0 {
			t = gguf.TypeF16
		}
		specs = append(specs, spec{name, []uint64{uint64(cols), uint64(rows)}, t})
	}
	vec := func(name string, n int) { specs = append(specs, spec{name, []uint64{uint64(n)}, gguf.TypeF32}) }
	big := o.Type
	if o.Mixed {
		big = gguf.TypeQ6_K
	}
	mat("token_embd.weight", c.VocabSize, c.Hidden, o.Type)
	vec("output_norm.weight", c.Hidden)
	if !c.TiedEmbeddings {
		mat("output.weight", c.VocabSize, c.Hidden, big)
	}
	fused := c.Arch == "phi3" // Phi-3 keeps llama.cpp's fused attn_qkv and ffn_up
	if c.RopeScaling.Type == "longrope" {
		vec("rope_factors_long.weight", c.RopeDim/2)
		vec("rope_factors_short.weight", c.RopeDim/2)
	}
	for i := range c.Layers {
		p := fmt.Sprintf("blk.%d.", i)
		vec(p+"attn_norm.weight", c.Hidden)
		if fused {
			mat(p+"attn_qkv.weight", c.QDim()+2*c.KVDim(), c.Hidden, big)
		} else {
			mat(p+"attn_q.weight", c.QDim(), c.Hidden, o.Type)
			mat(p+"attn_k.weight", c.KVDim(), c.Hidden, o.Type)
			mat(p+"attn_v.weight", c.KVDim(), c.Hidden, big)
		}
		mat(p+"attn_output.weight", c.Hidden, c.QDim(), o.Type)
		if c.AttentionBias {
			vec(p+"attn_q.bias", c.QDim())
			vec(p+"attn_k.bias", c.KVDim())
			vec(p+"attn_v.bias", c.KVDim())
		}
		if c.QKNorm {
			vec(p+"attn_q_norm.weight", c.HeadDim)
			vec(p+"attn_k_norm.weight", c.HeadDim)
		}
		vec(p+"ffn_norm.weight", c.Hidden)
		if fused {
			mat(p+"ffn_up.weight", 2*c.FFN, c.Hidden, o.Type)
		} else {
			mat(p+"ffn_gate.weight", c.FFN, c.Hidden, o.Type)
			mat(p+"ffn_up.weight", c.FFN, c.Hidden, o.Type)
		}
		mat(p+"ffn_down.weight", c.Hidden, c.FFN, big)
		if c.PostNorms {
			vec(p+"post_attention_norm.weight", c.Hidden)
			vec(p+"post_ffw_norm.weight", c.Hidden)
		}
	}
	infos := make([]gguf.TensorInfo, len(specs))
	for i, s := range specs {
		infos[i] = gguf.TensorInfo{Name: s.name, Type: s.typ, Dims: s.dims}
	}
	rng := rand.New(rand.NewPCG(o.Seed, 1))
	return gguf.WriteFile(path, md, infos, func(w *gguf.Writer) error {
		for _, s := range specs {
			var buf []byte
			if len(s.dims) == 1 {
				buf = make([]byte, 4*s.dims[0])
				for i := range s.dims[0] {
					v := float32(1 + 0.1*rng.NormFloat64())
					if len(s.name) > 5 && s.name[len(s.name)-5:] == ".bias" {
						v = float32(0.1 * rng.NormFloat64())
					}
					binary.LittleEndian.PutUint32(buf[4*i:], math.Float32bits(v))
				}
			} else {
				buf = randomWeights(rng, s.typ, int(s.dims[0]), int(s.dims[1]))
			}
			if err := w.WriteTensor(s.name, buf); err != nil {
				return fmt.Errorf("runtime: %s: %w", path, err)
			}
		}
		return nil
	})
}

// blockScales lists the byte offsets of the F16 scale fields in one block of each quantized
// type WriteRandomModel can fill, and the scale's typical size.
var blockScales = map[gguf.TensorType]struct {
	offsets []int
	scale   float64
}{
	gguf.TypeQ4_0: {[]int{0}, 0.004}, gguf.TypeQ4_1: {[]int{0, 2}, 0.004}, gguf.TypeQ5_0: {[]int{0}, 0.002},
	gguf.TypeQ5_1: {[]int{0, 2}, 0.002}, gguf.TypeQ8_0: {[]int{0}, 0.0003}, gguf.TypeIQ4_NL: {[]int{0}, 0.0003},
	gguf.TypeQ2_K: {[]int{80, 82}, 0.002}, gguf.TypeQ3_K: {[]int{108}, 0.0005}, gguf.TypeQ4_K: {[]int{0, 2}, 0.0005},
	gguf.TypeQ5_K: {[]int{0, 2}, 0.0003}, gguf.TypeQ6_K: {[]int{208}, 0.0003}, gguf.TypeIQ4_XS: {[]int{0}, 0.0001},
}

// randomWeights returns rows x cols random values of type t.
func randomWeights(rng *rand.Rand, t gguf.TensorType, cols, rows int) []byte {
	n := cols * rows
	std := 1 / math.Sqrt(float64(cols))
	switch t {
	case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16:
		x := make([]float32, n)
		for i := range x {
			x[i] = float32(std * rng.NormFloat64())
		}
		b := make([]byte, n*t.TypeSize())
		switch t {
		case gguf.TypeF32:
			dtype.EncodeF32(b, x)
		case gguf.TypeF16:
			dtype.EncodeF16(b, x)
		default:
			dtype.EncodeBF16(b, x)
		}
		return b
	}
	bs, ts := t.BlockSize(), t.TypeSize()
	b := make([]byte, n/bs*ts)
	for i := 0; i+8 <= len(b); i += 8 {
		binary.LittleEndian.PutUint64(b[i:], rng.Uint64())
	}
	sc := blockScales[t]
	for blk := range n / bs {
		for _, off := range sc.offsets {
			binary.LittleEndian.PutUint16(b[blk*ts+off:], dtype.F32ToF16(float32(sc.scale*(0.5+rng.Float64()))))
		}
	}
	return b
}

// RandomConfig returns the configuration of a model of roughly the named shape for
// WriteRandomModel: "1b" (llama, TinyLlama-1.1B's shape: hidden 2048, 22 layers, 32 heads, 4 KV
// heads, FFN 5632, vocabulary 32000), "tiny" (llama, hidden 256, 4 layers), "gemma3-1b"
// (Gemma 3 1B: hidden 1152, 26 layers, 4 heads of 256, 1 KV head, FFN 6912, window 512,
// vocabulary 262144) or "phi4-mini" (Phi-4-mini: hidden 3072, 32 layers, 24 heads, 8 KV heads,
// FFN 8192, 75% rotary, LongRoPE, vocabulary 200064, tied).
func RandomConfig(size string) (convert.Config, error) {
	c := convert.Config{Arch: "llama", HFModelType: "llama", RMSNormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2}
	switch size {
	case "1b":
		c.Hidden, c.Layers, c.Heads, c.KVHeads, c.FFN, c.VocabSize, c.ContextLength = 2048, 22, 32, 4, 5632, 32000, 2048
	case "tiny":
		c.Hidden, c.Layers, c.Heads, c.KVHeads, c.FFN, c.VocabSize, c.ContextLength = 256, 4, 8, 4, 768, 2048, 512
	case "gemma3-1b":
		c = convert.Config{Arch: "gemma3", HFModelType: "gemma3_text", Hidden: 1152, Layers: 26, Heads: 4, KVHeads: 1,
			HeadDim: 256, RopeDim: 256, FFN: 6912, VocabSize: 262144, ContextLength: 32768, RMSNormEps: 1e-6,
			RopeTheta: 1e6, RopeThetaSWA: 10000, RopeNeoX: true, TiedEmbeddings: true, QKNorm: true,
			EmbedScale: true, PostNorms: true, GELU: true, SlidingWindow: 512, SWAPattern: 6, BOS: 2, EOS: 1}
		return c, nil
	case "phi4-mini":
		c = convert.Config{Arch: "phi3", HFModelType: "phi3", Hidden: 3072, Layers: 32, Heads: 24, KVHeads: 8,
			HeadDim: 128, RopeDim: 96, FFN: 8192, VocabSize: 200064, ContextLength: 131072, RMSNormEps: 1e-5,
			RopeTheta: 10000, RopeNeoX: true, TiedEmbeddings: true, BOS: 199999, EOS: 199999,
			RopeScaling: convert.RopeScaling{Type: "longrope", OriginalContext: 4096,
				AttnFactor: float64(float32(math.Sqrt(1 + math.Log(32)/math.Log(4096))))}}
		return c, nil
	default:
		return c, fmt.Errorf("runtime: unknown random model size %q (want 1b, tiny, gemma3-1b or phi4-mini)", size)
	}
	c.HeadDim = c.Hidden / c.Heads
	c.RopeDim = c.HeadDim
	return c, nil
}

// placeholderVocab returns tokenizer metadata for a SentencePiece vocabulary of n tokens with
// byte fallback and no merges of meaning.
func placeholderVocab(n int) gguf.Metadata {
	tokens := make([]string, n)
	scores := make([]float32, n)
	types := make([]int32, n)
	tokens[0], tokens[1], tokens[2] = "<unk>", "<s>", "</s>"
	types[0], types[1], types[2] = 2, 3, 3
	for i := range n {
		switch {
		case i < 3:
		case i < 259:
			tokens[i], types[i] = fmt.Sprintf("<0x%02X>", i-3), 6
		case i == 259:
			tokens[i], types[i] = "\u2581", 1
		default:
			tokens[i], types[i], scores[i] = fmt.Sprintf("\u2581t%d", i), 1, -float32(i)
		}
	}
	return gguf.Metadata{
		{Key: "tokenizer.ggml.model", Value: "llama"},
		{Key: "tokenizer.ggml.tokens", Value: gguf.Array{Type: gguf.ValueString, Values: tokens}},
		{Key: "tokenizer.ggml.scores", Value: gguf.Array{Type: gguf.ValueFloat32, Values: scores}},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Array{Type: gguf.ValueInt32, Values: types}},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
	}
}
