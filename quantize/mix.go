package quantize

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// FileType is llama.cpp's llama_ftype: the quantization mix of a model file, stored in
// general.file_type.
type FileType uint32

// The llama_ftype values (llama.h). Only the mixes listed by Mixes can be produced here; the
// others are named so that files carrying them can be described.
const (
	FileTypeAllF32   FileType = 0
	FileTypeF16      FileType = 1
	FileTypeQ4_0     FileType = 2
	FileTypeQ4_1     FileType = 3
	FileTypeQ8_0     FileType = 7
	FileTypeQ5_0     FileType = 8
	FileTypeQ5_1     FileType = 9
	FileTypeQ2_K     FileType = 10
	FileTypeQ3_K_S   FileType = 11
	FileTypeQ3_K_M   FileType = 12
	FileTypeQ3_K_L   FileType = 13
	FileTypeQ4_K_S   FileType = 14
	FileTypeQ4_K_M   FileType = 15
	FileTypeQ5_K_S   FileType = 16
	FileTypeQ5_K_M   FileType = 17
	FileTypeQ6_K     FileType = 18
	FileTypeIQ2_XXS  FileType = 19
	FileTypeIQ2_XS   FileType = 20
	FileTypeQ2_K_S   FileType = 21
	FileTypeIQ3_XS   FileType = 22
	FileTypeIQ3_XXS  FileType = 23
	FileTypeIQ1_S    FileType = 24
	FileTypeIQ4_NL   FileType = 25
	FileTypeIQ3_S    FileType = 26
	FileTypeIQ3_M    FileType = 27
	FileTypeIQ2_S    FileType = 28
	FileTypeIQ2_M    FileType = 29
	FileTypeIQ4_XS   FileType = 30
	FileTypeIQ1_M    FileType = 31
	FileTypeBF16     FileType = 32
	FileTypeTQ1_0    FileType = 36
	FileTypeTQ2_0    FileType = 37
	FileTypeMXFP4MoE FileType = 38
)

// Mix is a quantization mix llama-quantize offers: a file type with its default tensor type.
type Mix struct {
	// Name is llama-quantize's name, such as "Q4_K_M".
	Name string
	// FileType is the llama_ftype written to general.file_type.
	FileType FileType
	// Default is the type of the tensors no rule singles out.
	Default gguf.TensorType
	// Description summarises the mix's per-tensor rules.
	Description string
}

// mixes lists every mix this package produces, in llama-quantize's order.
var mixes = []Mix{
	{"Q4_0", FileTypeQ4_0, gguf.TypeQ4_0, "Q4_0; output Q6_K"},
	{"Q4_1", FileTypeQ4_1, gguf.TypeQ4_1, "Q4_1; output Q6_K"},
	{"Q5_0", FileTypeQ5_0, gguf.TypeQ5_0, "Q5_0; output Q6_K"},
	{"Q5_1", FileTypeQ5_1, gguf.TypeQ5_1, "Q5_1; output Q6_K"},
	{"IQ2_XXS", FileTypeIQ2_XXS, gguf.TypeIQ2_XXS, "IQ2_XXS; needs an imatrix; attn_v Q2_K (Q4_K if GQA>=4), first 1/8 of ffn_down Q2_K, token_embd Q2_K, output Q5_K"},
	{"IQ2_XS", FileTypeIQ2_XS, gguf.TypeIQ2_XS, "IQ2_XS; needs an imatrix; attn_v Q2_K (Q4_K if GQA>=4), first 1/8 of ffn_down Q2_K, token_embd Q2_K, output Q5_K"},
	{"IQ2_S", FileTypeIQ2_S, gguf.TypeIQ2_XS, "IQ2_XS; needs an imatrix; attn_v, attn_output and first 1/8 of ffn_down IQ3_S (attn_v Q4_K if GQA>=4), token_embd IQ3_S, output Q5_K"},
	{"IQ2_M", FileTypeIQ2_M, gguf.TypeIQ2_S, "IQ2_S; needs an imatrix; attn_v, attn_output and first 1/8 of ffn_down IQ3_S (attn_v Q4_K if GQA>=4), token_embd IQ3_S, output Q5_K"},
	{"IQ1_S", FileTypeIQ1_S, gguf.TypeIQ1_S, "IQ1_S; needs an imatrix; attn_v Q2_K (Q4_K if GQA>=4), first 1/8 of ffn_down Q2_K, attn_output IQ2_XXS, token_embd Q2_K, output Q5_K"},
	{"IQ1_M", FileTypeIQ1_M, gguf.TypeIQ1_M, "IQ1_M; needs an imatrix; attn_v Q2_K (Q4_K if GQA>=4), first 1/8 of ffn_down Q2_K, attn_output IQ2_XXS, token_embd Q2_K, output Q5_K"},
	{"TQ1_0", FileTypeTQ1_0, gguf.TypeTQ1_0, "TQ1_0 (ternary models); token_embd Q4_K, output Q6_K"},
	{"TQ2_0", FileTypeTQ2_0, gguf.TypeTQ2_0, "TQ2_0 (ternary models); token_embd Q4_K, output Q6_K"},
	{"Q2_K", FileTypeQ2_K, gguf.TypeQ2_K, "Q2_K; attn_v Q3_K (Q4_K if GQA>=4), ffn_down and attn_output Q3_K, output Q6_K"},
	{"Q2_K_S", FileTypeQ2_K_S, gguf.TypeQ2_K, "Q2_K; needs an imatrix; attn_v Q4_K if GQA>=4, first 1/8 of ffn_down Q4_K, output Q6_K"},
	{"IQ3_XXS", FileTypeIQ3_XXS, gguf.TypeIQ3_XXS, "IQ3_XXS; needs an imatrix; attn_q and attn_k IQ2_S, attn_v Q4_K if GQA>=4, attn_output IQ3_S, token_embd IQ3_S, output Q5_K"},
	{"IQ3_S", FileTypeIQ3_S, gguf.TypeIQ3_S, "IQ3_S; attn_v Q4_K if GQA>=4, output Q6_K"},
	{"IQ3_M", FileTypeIQ3_M, gguf.TypeIQ3_S, "IQ3_S; attn_v, attn_output and first 1/8 of ffn_down Q4_K, output Q6_K"},
	{"IQ3_XS", FileTypeIQ3_XS, gguf.TypeIQ3_S, "IQ3_S; attn_q, attn_k and the middle 3/4 of ffn_gate/ffn_up IQ3_XXS (which needs an imatrix), attn_v Q4_K if GQA>=4, output Q6_K"},
	{"Q3_K_S", FileTypeQ3_K_S, gguf.TypeQ3_K, "Q3_K; output Q6_K"},
	{"Q3_K_M", FileTypeQ3_K_M, gguf.TypeQ3_K, "Q3_K; attn_v Q5_K (first two) else Q4_K, ffn_down Q5_K/Q4_K, attn_output Q4_K, output Q6_K"},
	{"Q3_K_L", FileTypeQ3_K_L, gguf.TypeQ3_K, "Q3_K; attn_v, ffn_down and attn_output Q5_K, output Q6_K"},
	{"IQ4_NL", FileTypeIQ4_NL, gguf.TypeIQ4_NL, "IQ4_NL; attn_v Q5_K if GQA>=4, first 1/8 of ffn_down Q5_K without imatrix, output Q6_K"},
	{"IQ4_XS", FileTypeIQ4_XS, gguf.TypeIQ4_XS, "IQ4_XS; attn_v Q5_K if GQA>=4, first 1/8 of ffn_down Q5_K without imatrix, output Q6_K"},
	{"Q4_K_S", FileTypeQ4_K_S, gguf.TypeQ4_K, "Q4_K; first four attn_v and first 1/8 of ffn_down Q5_K, output Q6_K"},
	{"Q4_K_M", FileTypeQ4_K_M, gguf.TypeQ4_K, "Q4_K; half of attn_v and ffn_down (use_more_bits layers) Q6_K, output Q6_K"},
	{"Q5_K_S", FileTypeQ5_K_S, gguf.TypeQ5_K, "Q5_K; output Q6_K"},
	{"Q5_K_M", FileTypeQ5_K_M, gguf.TypeQ5_K, "Q5_K; half of attn_v and ffn_down (use_more_bits layers) Q6_K, output Q6_K"},
	{"Q6_K", FileTypeQ6_K, gguf.TypeQ6_K, "Q6_K everywhere"},
	{"Q8_0", FileTypeQ8_0, gguf.TypeQ8_0, "Q8_0 everywhere"},
	{"F16", FileTypeF16, gguf.TypeF16, "F16 (1-D tensors stay as they are)"},
	{"BF16", FileTypeBF16, gguf.TypeBF16, "BF16 (1-D tensors stay as they are)"},
	{"F32", FileTypeAllF32, gguf.TypeF32, "F32"},
}

// mixAliases are llama-quantize's short names.
var mixAliases = map[string]string{"Q3_K": "Q3_K_M", "Q4_K": "Q4_K_M", "Q5_K": "Q5_K_M"}

// Mixes returns the mixes this package can produce.
func Mixes() []Mix { return append([]Mix(nil), mixes...) }

// ParseMix returns the mix named s (case-insensitive; "Q4_K" is Q4_K_M, "Q3_K" Q3_K_M, "Q5_K"
// Q5_K_M) or given by its llama_ftype number.
func ParseMix(s string) (Mix, error) {
	name := strings.ToUpper(strings.TrimSpace(s))
	if a, ok := mixAliases[name]; ok {
		name = a
	}
	for _, m := range mixes {
		if m.Name == name {
			return m, nil
		}
	}
	if n, err := strconv.ParseUint(name, 10, 32); err == nil {
		for _, m := range mixes {
			if uint64(m.FileType) == n {
				return m, nil
			}
		}
	}
	names := make([]string, len(mixes))
	for i, m := range mixes {
		names[i] = m.Name
	}
	return Mix{}, invalidf("unknown quantization mix %q (known: %s)", s, strings.Join(names, ", "))
}

// bitsMixes is the default mix for each --bits budget.
var bitsMixes = map[int]string{2: "Q2_K", 3: "Q3_K_M", 4: "Q4_K_M", 5: "Q5_K_M", 6: "Q6_K", 7: "Q6_K", 8: "Q8_0"}

// bitsMixesImatrix overrides bitsMixes when an importance matrix is given: the 2- and 3-bit
// budgets then get llama.cpp's codebook mixes, which need one and beat Q2_K and Q3_K_M at fewer
// bits per weight.
var bitsMixesImatrix = map[int]string{2: "IQ2_M", 3: "IQ3_M"}

// MixForBitsImatrix is MixForBits for a run with an importance matrix: 2 IQ2_M, 3 IQ3_M, and
// otherwise as MixForBits.
func MixForBitsImatrix(bits int) (Mix, error) {
	if name, ok := bitsMixesImatrix[bits]; ok {
		return ParseMix(name)
	}
	return MixForBits(bits)
}

// MixForBits returns the default mix for a budget of about bits bits per weight (2 to 8):
// 2 Q2_K, 3 Q3_K_M, 4 Q4_K_M, 5 Q5_K_M, 6 and 7 Q6_K, 8 Q8_0.
func MixForBits(bits int) (Mix, error) {
	name, ok := bitsMixes[bits]
	if !ok {
		return Mix{}, invalidf("--bits %d: want 2 to 8", bits)
	}
	return ParseMix(name)
}

// TensorTypeRule forces the type of the tensors whose names match Pattern (llama-quantize's
// --tensor-type NAME=TYPE). The first matching rule wins; the mix's rules are then skipped for
// that tensor, but the row-length fallbacks still apply.
type TensorTypeRule struct {
	Pattern *regexp.Regexp
	Type    gguf.TensorType
}

// ParseTensorTypeRule parses "REGEX=TYPE" as llama-quantize does: the pattern is lowercased and
// the type is a ggml type name (case-insensitive).
func ParseTensorTypeRule(s string) (TensorTypeRule, error) {
	i := strings.LastIndexByte(s, '=')
	if i < 0 {
		return TensorTypeRule{}, invalidf("tensor type %q: want NAME=TYPE", s)
	}
	if i == 0 {
		return TensorTypeRule{}, invalidf("tensor type %q: missing tensor name", s)
	}
	if i == len(s)-1 {
		return TensorTypeRule{}, invalidf("tensor type %q: missing quantization type", s)
	}
	re, err := regexp.Compile(strings.ToLower(s[:i]))
	if err != nil {
		return TensorTypeRule{}, invalidf("tensor type %q: %v", s, err)
	}
	t, err := ParseType(s[i+1:])
	if err != nil {
		return TensorTypeRule{}, fmt.Errorf("tensor type %q: %w", s, err)
	}
	return TensorTypeRule{Pattern: re, Type: t}, nil
}

// ParseType returns the ggml type named s (case-insensitive) if this package has a codec for it.
func ParseType(s string) (gguf.TensorType, error) {
	t, err := gguf.ParseTensorType(strings.TrimSpace(s))
	if err != nil {
		return 0, invalidf("%v", err)
	}
	if _, ok := Lookup(t); !ok {
		return 0, invalidf("type %s cannot be produced (supported: %v)", t, Types())
	}
	return t, nil
}

// ModelInfo holds the hyper-parameters llama-quantize's rules look at, read from GGUF metadata.
type ModelInfo struct {
	Arch    string // general.architecture
	Layers  int    // {arch}.block_count
	Heads   int    // {arch}.attention.head_count (of layer 0)
	KVHeads int    // {arch}.attention.head_count_kv (of layer 0; Heads when absent)
	Experts int    // {arch}.expert_count (0 when absent)
}

// GQA returns Heads/KVHeads (llama.cpp's n_gqa), 0 without KV heads.
func (m ModelInfo) GQA() int {
	if m.KVHeads == 0 {
		return 0
	}
	return m.Heads / m.KVHeads
}

// is70B reports llama.cpp's LLM_TYPE_70B (80-layer llama with GQA), which gets a larger attn_v.
func (m ModelInfo) is70B() bool { return m.Arch == "llama" && m.Layers == 80 && m.Heads != m.KVHeads }

// ModelInfoFromMetadata reads the hyper-parameters the mix rules need.
func ModelInfoFromMetadata(md gguf.Metadata) ModelInfo {
	arch, _ := md.String("general.architecture")
	mi := ModelInfo{Arch: arch}
	first := func(key string) (int, bool) {
		if v, ok := md.Uint(key); ok {
			return int(v), true
		}
		if a, ok := md.Array(key); ok {
			switch v := a.Values.(type) {
			case []uint32:
				if len(v) > 0 {
					return int(v[0]), true
				}
			case []int32:
				if len(v) > 0 && v[0] >= 0 {
					return int(v[0]), true
				}
			}
		}
		return 0, false
	}
	mi.Layers, _ = first(arch + ".block_count")
	mi.Heads, _ = first(arch + ".attention.head_count")
	var ok bool
	if mi.KVHeads, ok = first(arch + ".attention.head_count_kv"); !ok {
		mi.KVHeads = mi.Heads
	}
	mi.Experts, _ = first(arch + ".expert_count")
	return mi
}

// category is llama-quant.cpp's tensor_category.
type category int

const (
	catOther category = iota
	catTokenEmbd
	catAttnQ
	catAttnV
	catAttnK
	catAttnQKV
	catAttnKVB
	catAttnOutput
	catFFNUp
	catFFNGate
	catFFNDown
	catOutput
)

func isTokenEmbd(name string) bool {
	return name == "token_embd.weight" || name == "per_layer_token_embd.weight"
}

// tensorCategory classifies a tensor by name, in llama.cpp's order of checks.
func tensorCategory(name string) category {
	switch {
	case name == "output.weight":
		return catOutput
	case isTokenEmbd(name):
		return catTokenEmbd
	case strings.Contains(name, "attn_qkv.weight"):
		return catAttnQKV
	case strings.Contains(name, "attn_kv_b.weight"):
		return catAttnKVB
	case strings.Contains(name, "attn_v.weight"):
		return catAttnV
	case strings.Contains(name, "attn_k.weight"):
		return catAttnK
	case strings.Contains(name, "attn_q.weight"):
		return catAttnQ
	case strings.Contains(name, "attn_output.weight"):
		return catAttnOutput
	case strings.Contains(name, "ffn_up"):
		return catFFNUp
	case strings.Contains(name, "ffn_gate"):
		return catFFNGate
	case strings.Contains(name, "ffn_down"):
		return catFFNDown
	}
	return catOther
}

func (c category) isAttnV() bool { return c == catAttnV || c == catAttnQKV || c == catAttnKVB }

// nDims is ggml_n_dims: the number of dimensions without trailing ones (at least 1).
func nDims(dims []uint64) int {
	n := len(dims)
	for n > 1 && dims[n-1] == 1 {
		n--
	}
	return max(n, 1)
}

// notQuantized lists name fragments llama-quantize never quantizes (small or special tensors).
var notQuantized = []string{
	"_norm.weight", "ffn_gate_inp.weight", "ffn_gate_tid2eid.weight", "altup", "laurel",
	"per_layer_model_proj", "ssm_conv1d", "shortconv.conv.weight", "indexer.k_proj.weight",
	"indexer.q_proj.weight", "time_mix_first.weight", "time_mix_w0.weight", "time_mix_w1.weight",
	"time_mix_w2.weight", "time_mix_v0.weight", "time_mix_v1.weight", "time_mix_v2.weight",
	"time_mix_a0.weight", "time_mix_a1.weight", "time_mix_a2.weight", "time_mix_g1.weight",
	"time_mix_g2.weight", "time_mix_decay_w1.weight", "time_mix_decay_w2.weight",
	"time_mix_lerp_fused.weight", "attn_rel_b.weight", ".position_embd", "sam.pos_embd",
	"sam.neck.", "sam.net_", ".rel_pos", ".patch_embd", ".patch_merger", "a.rvq.codebook",
	"mm.a.code_embd",
}

// AllowsQuantization reports whether llama-quantize would quantize the tensor at all
// (tensor_allows_quantization): 2-D and 3-D tensors whose names end in "weight", except norms,
// expert routers, positional embeddings and a list of small special tensors, and except
// output.weight when leaveOutput is set.
func AllowsQuantization(name string, dims []uint64, leaveOutput bool) bool {
	if nDims(dims) < 2 {
		return false
	}
	if !strings.HasSuffix(name, "weight") {
		return false
	}
	if leaveOutput && name == "output.weight" {
		return false
	}
	if name == "position_embd.weight" || name == "token_types.weight" {
		return false
	}
	for _, s := range notQuantized {
		if strings.Contains(name, s) {
			return false
		}
	}
	return true
}

// typeChooser is llama-quant.cpp's quantize_state_impl with llama_tensor_get_type: it must see
// the tensors in llama-quantize's order, since its counters (attn_v, ffn_down, ...) advance
// with each tensor.
type typeChooser struct {
	mix        Mix
	info       ModelInfo
	opts       *Options
	hasImatrix bool

	nAttnV, iAttnV             int
	nFFNDown, nFFNGate, nFFNUp int
	iFFNDown, iFFNGate, iFFNUp int
	nFallback                  int
	tiedEmbeddings             bool
	warnings                   []string
}

func newTypeChooser(mix Mix, info ModelInfo, opts *Options, names []string) *typeChooser {
	c := &typeChooser{mix: mix, info: info, opts: opts, hasImatrix: opts.Imatrix != nil, tiedEmbeddings: true}
	for _, n := range names {
		cat := tensorCategory(n)
		if cat.isAttnV() {
			c.nAttnV++
		}
		if cat == catOutput {
			c.tiedEmbeddings = false
		}
	}
	c.nFFNDown, c.nFFNGate, c.nFFNUp = info.Layers, info.Layers, info.Layers
	return c
}

func useMoreBits(iLayer, nLayers int) bool {
	return iLayer < nLayers/8 || iLayer >= 7*nLayers/8 || (iLayer-nLayers/8)%3 == 2
}

// layerInfo returns the layer index for the ffn rules: the running counter, or for MoE models
// the number in the tensor's "blk.N." name.
func (c *typeChooser) layerInfo(counter, nLayer int, name string) (int, int, error) {
	if c.info.Experts > 1 {
		l, ok := layerOf(name)
		if !ok {
			return 0, 0, invalidf("tensor %q: cannot determine its layer", name)
		}
		if l < 0 || l >= nLayer {
			return 0, 0, invalidf("tensor %q: layer %d not in [0, %d)", name, l, nLayer)
		}
		return l, nLayer, nil
	}
	return counter, nLayer, nil
}

// choose returns the type for one quantizable tensor (llama_tensor_get_type). cur is the
// tensor's current type.
func (c *typeChooser) choose(name string, dims []uint64, cur gguf.TensorType) (gguf.TensorType, error) {
	cat := tensorCategory(name)
	if c.opts.TokenEmbeddingType != nil && cat == catTokenEmbd {
		return *c.opts.TokenEmbeddingType, nil
	}
	if c.opts.OutputTensorType != nil && cat == catOutput {
		return *c.opts.OutputTensorType, nil
	}
	t := c.mix.Default
	if !t.Quantized() {
		return t, nil
	}
	manual := false
	for _, r := range c.opts.TensorTypes {
		if r.Pattern.MatchString(name) {
			t = r.Type
			manual = true
			break
		}
	}
	if !manual && !c.opts.Pure {
		var err error
		if t, err = c.mixRule(t, name, dims, cat); err != nil {
			return 0, err
		}
	}
	return c.fallback(name, dims, t)
}

// fallback is tensor_type_fallback: a type whose block does not divide the row length is
// replaced by a 32-block type, or F16 when even that does not divide it.
func (c *typeChooser) fallback(name string, dims []uint64, t gguf.TensorType) (gguf.TensorType, error) {
	ncols := dims[0]
	if ncols%uint64(t.BlockSize()) == 0 {
		return t, nil
	}
	c.nFallback++
	var r gguf.TensorType
	switch t {
	case gguf.TypeIQ1_S, gguf.TypeIQ1_M, gguf.TypeIQ2_XXS, gguf.TypeIQ2_XS, gguf.TypeIQ2_S,
		gguf.TypeIQ3_XXS, gguf.TypeIQ3_S, gguf.TypeIQ4_XS:
		r = gguf.TypeIQ4_NL
	case gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeTQ1_0, gguf.TypeTQ2_0:
		r = gguf.TypeQ4_0
	case gguf.TypeQ4_K:
		r = gguf.TypeQ5_0
	case gguf.TypeQ5_K:
		r = gguf.TypeQ5_1
	case gguf.TypeQ6_K:
		r = gguf.TypeQ8_0
	default:
		return 0, invalidf("tensor %q: row length %d is not a multiple of %s's block size %d and %s has no fallback type",
			name, ncols, t, t.BlockSize(), t)
	}
	if ncols%uint64(r.BlockSize()) != 0 {
		r = gguf.TypeF16
	}
	c.warnings = append(c.warnings, fmt.Sprintf("%s: row length %d not divisible by %d (required for %s): falling back to %s", name, ncols, t.BlockSize(), t, r))
	return r, nil
}

// mixRule is llama_tensor_get_type_impl for the mixes of this package: the per-tensor choices of
// llama-quantize by category, layer and model shape.
func (c *typeChooser) mixRule(t gguf.TensorType, name string, dims []uint64, cat category) (gguf.TensorType, error) {
	ft := c.mix.FileType
	arch := c.info.Arch
	gqa := c.info.GQA()
	experts := c.info.Experts
	if cat == catOutput || (c.tiedEmbeddings && cat == catTokenEmbd) {
		if c.opts.OutputTensorType != nil {
			return *c.opts.OutputTensorType, nil
		}
		switch {
		case ft == FileTypeMXFP4MoE:
			return gguf.TypeQ8_0, nil
		case arch == "falcon" || dims[0]%uint64(t.BlockSize()) != 0:
			return gguf.TypeQ8_0, nil
		case ft.lowBitIQ() || ft == FileTypeIQ3_XXS:
			return gguf.TypeQ5_K, nil
		case t != gguf.TypeQ8_0:
			return gguf.TypeQ6_K, nil
		}
		return t, nil
	}
	switch {
	case cat == catTokenEmbd:
		if c.opts.TokenEmbeddingType != nil {
			return *c.opts.TokenEmbeddingType, nil
		}
		switch ft {
		case FileTypeIQ2_XXS, FileTypeIQ2_XS, FileTypeIQ1_S, FileTypeIQ1_M:
			t = gguf.TypeQ2_K
		case FileTypeIQ2_S, FileTypeIQ2_M, FileTypeIQ3_XXS:
			t = gguf.TypeIQ3_S
		case FileTypeTQ1_0, FileTypeTQ2_0:
			t = gguf.TypeQ4_K
		}
	case ft.lowBitIQ():
		t = c.lowBitIQRule(t, cat)
	case cat.isAttnV():
		switch {
		case ft == FileTypeQ2_K:
			t = gguf.TypeQ3_K
			if gqa >= 4 {
				t = gguf.TypeQ4_K
			}
		case ft == FileTypeQ2_K_S && gqa >= 4:
			t = gguf.TypeQ4_K
		case ft == FileTypeIQ3_XXS:
			switch {
			case gqa >= 4:
				t = gguf.TypeQ4_K
			case !c.hasImatrix:
				t = gguf.TypeIQ3_S
			default:
				t = gguf.TypeIQ3_XXS
			}
		case (ft == FileTypeIQ3_XS || ft == FileTypeIQ3_S) && gqa >= 4:
			t = gguf.TypeQ4_K
		case ft == FileTypeIQ3_M:
			t = gguf.TypeQ4_K
		case ft == FileTypeQ3_K_M:
			t = gguf.TypeQ4_K
			if c.iAttnV < 2 {
				t = gguf.TypeQ5_K
			}
		case ft == FileTypeQ3_K_L:
			t = gguf.TypeQ5_K
		case (ft == FileTypeIQ4_NL || ft == FileTypeIQ4_XS) && gqa >= 4:
			t = gguf.TypeQ5_K
		case (ft == FileTypeQ4_K_M || ft == FileTypeQ5_K_M) && useMoreBits(c.iAttnV, c.nAttnV):
			t = gguf.TypeQ6_K
		case ft == FileTypeQ4_K_S && c.iAttnV < 4:
			t = gguf.TypeQ5_K
		}
		if c.info.is70B() && (t == gguf.TypeQ3_K || t == gguf.TypeQ4_K) {
			t = gguf.TypeQ5_K
		}
		if experts == 8 {
			t = gguf.TypeQ8_0
		}
		c.iAttnV++
	case cat == catAttnK:
		switch {
		case experts == 8:
			t = gguf.TypeQ8_0
		case ft == FileTypeIQ3_XS:
			t = gguf.TypeIQ3_XXS
		case ft == FileTypeIQ3_XXS:
			t = gguf.TypeIQ2_S
		}
	case cat == catAttnQ:
		switch ft {
		case FileTypeIQ3_XS:
			t = gguf.TypeIQ3_XXS
		case FileTypeIQ3_XXS:
			t = gguf.TypeIQ2_S
		}
	case cat == catFFNDown:
		iLayer, nLayer, err := c.layerInfo(c.iFFNDown, c.nFFNDown, name)
		if err != nil {
			return 0, err
		}
		switch {
		case ft == FileTypeQ2_K:
			t = gguf.TypeQ3_K
		case ft == FileTypeQ2_K_S:
			if iLayer < nLayer/8 {
				t = gguf.TypeQ4_K
			}
		case ft == FileTypeIQ3_XXS && !c.hasImatrix:
			t = gguf.TypeQ3_K
			if iLayer < nLayer/8 {
				t = gguf.TypeQ4_K
			}
		case ft == FileTypeQ3_K_M:
			switch {
			case iLayer < nLayer/16:
				t = gguf.TypeQ5_K
			case arch != "falcon" || useMoreBits(iLayer, nLayer):
				t = gguf.TypeQ4_K
			default:
				t = gguf.TypeQ3_K
			}
		case ft == FileTypeIQ3_M && (iLayer < nLayer/8 || (experts == 8 && useMoreBits(iLayer, nLayer))):
			t = gguf.TypeQ4_K
		case ft == FileTypeQ3_K_L:
			t = gguf.TypeQ5_K
			if arch == "falcon" {
				t = gguf.TypeQ4_K
			}
		case ft == FileTypeQ4_K_M:
			if arch == "falcon" {
				switch {
				case iLayer < nLayer/16:
					t = gguf.TypeQ6_K
				case useMoreBits(iLayer, nLayer):
					t = gguf.TypeQ5_K
				default:
					t = gguf.TypeQ4_K
				}
			} else if useMoreBits(iLayer, nLayer) {
				t = gguf.TypeQ6_K
			}
		case iLayer < nLayer/8 && (ft == FileTypeIQ4_NL || ft == FileTypeIQ4_XS) && !c.hasImatrix:
			t = gguf.TypeQ5_K
		case ft == FileTypeQ5_K_M && useMoreBits(iLayer, nLayer):
			t = gguf.TypeQ6_K
		case ft == FileTypeQ4_K_S && arch != "falcon" && iLayer < nLayer/8:
			t = gguf.TypeQ5_K
		case (ft == FileTypeQ4_0 || ft == FileTypeQ5_0) && c.hasImatrix && iLayer < nLayer/8:
			t = gguf.TypeQ5_1
			if ft == FileTypeQ4_0 {
				t = gguf.TypeQ4_1
			}
		}
		c.iFFNDown++
	case cat == catAttnOutput:
		if arch != "falcon" {
			if experts == 8 {
				switch ft {
				case FileTypeQ2_K, FileTypeQ3_K_M, FileTypeIQ4_NL, FileTypeQ4_K_S, FileTypeQ4_K_M,
					FileTypeIQ4_XS, FileTypeIQ3_XS, FileTypeIQ3_XXS, FileTypeQ3_K_S, FileTypeIQ3_S, FileTypeIQ3_M:
					t = gguf.TypeQ5_K
				}
			} else {
				switch ft {
				case FileTypeQ2_K:
					t = gguf.TypeQ3_K
				case FileTypeIQ3_XXS:
					t = gguf.TypeIQ3_S
				case FileTypeQ3_K_M, FileTypeIQ3_M:
					t = gguf.TypeQ4_K
				case FileTypeQ3_K_L:
					t = gguf.TypeQ5_K
				}
			}
		} else if ft == FileTypeQ3_K_L {
			t = gguf.TypeQ4_K
		}
	case cat == catAttnQKV:
		switch ft {
		case FileTypeQ3_K_M, FileTypeQ3_K_L, FileTypeIQ3_M:
			t = gguf.TypeQ4_K
		case FileTypeQ4_K_M:
			t = gguf.TypeQ5_K
		case FileTypeQ5_K_M:
			t = gguf.TypeQ6_K
		}
	case cat == catFFNGate:
		iLayer, nLayer, err := c.layerInfo(c.iFFNGate, c.nFFNGate, name)
		if err != nil {
			return 0, err
		}
		if ft == FileTypeIQ3_XS && iLayer >= nLayer/8 && iLayer < 7*nLayer/8 {
			t = gguf.TypeIQ3_XXS
		}
		c.iFFNGate++
	case cat == catFFNUp:
		iLayer, nLayer, err := c.layerInfo(c.iFFNUp, c.nFFNUp, name)
		if err != nil {
			return 0, err
		}
		if ft == FileTypeIQ3_XS && iLayer >= nLayer/8 && iLayer < 7*nLayer/8 {
			t = gguf.TypeIQ3_XXS
		}
		c.iFFNUp++
	}
	return t, nil
}

// lowBitIQ reports the 1-2-bit codebook mixes that llama-quantize gives rules of their own:
// IQ2_XXS, IQ2_XS, IQ2_S, IQ2_M, IQ1_S and IQ1_M.
func (ft FileType) lowBitIQ() bool {
	switch ft {
	case FileTypeIQ2_XXS, FileTypeIQ2_XS, FileTypeIQ2_S, FileTypeIQ2_M, FileTypeIQ1_S, FileTypeIQ1_M:
		return true
	}
	return false
}

// lowBitIQRule is llama-quantize's branch for the lowBitIQ mixes: attn_v, the first eighth of
// ffn_down and attn_output get a larger type (the counters advance as in llama.cpp, where the
// ffn_down layer is the running count even for MoE models).
func (c *typeChooser) lowBitIQRule(t gguf.TensorType, cat category) gguf.TensorType {
	ft := c.mix.FileType
	bigger := gguf.TypeQ2_K
	if ft == FileTypeIQ2_S || ft == FileTypeIQ2_M {
		bigger = gguf.TypeIQ3_S
	}
	switch {
	case cat.isAttnV():
		t = bigger
		if c.info.GQA() >= 4 || c.info.Experts >= 4 {
			t = gguf.TypeQ4_K
		}
		c.iAttnV++
	case c.info.Experts == 8 && cat == catAttnK:
		t = gguf.TypeQ4_K
	case cat == catFFNDown:
		if c.iFFNDown < c.nFFNDown/8 {
			t = bigger
		}
		c.iFFNDown++
	case cat == catAttnOutput:
		switch {
		case c.info.Experts == 8:
			t = gguf.TypeQ5_K
		case ft == FileTypeIQ1_S || ft == FileTypeIQ1_M:
			t = gguf.TypeIQ2_XXS
		case ft == FileTypeIQ2_S || ft == FileTypeIQ2_M:
			t = gguf.TypeIQ3_S
		}
	}
	return t
}

// requiresImatrix is tensor_requires_imatrix: tensors (other than the embeddings and output)
// of type IQ3_XXS, IQ2_XXS, IQ2_XS, IQ2_S, IQ1_S or IQ1_M, and Q2_K tensors of a Q2_K_S file.
func requiresImatrix(name string, t gguf.TensorType, ft FileType) bool {
	if isTokenEmbd(name) || name == "output.weight" {
		return false
	}
	switch t {
	case gguf.TypeIQ3_XXS, gguf.TypeIQ2_XXS, gguf.TypeIQ2_XS, gguf.TypeIQ2_S, gguf.TypeIQ1_M, gguf.TypeIQ1_S:
		return true
	}
	return t == gguf.TypeQ2_K && ft == FileTypeQ2_K_S
}

// layerOf parses the N of a "blk.N." prefix the way sscanf("blk.%d.") does.
func layerOf(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return 0, false
	}
	rest = strings.TrimLeft(rest, " \t\n\v\f\r")
	i := 0
	if i < len(rest) && (rest[i] == '+' || rest[i] == '-') {
		i++
	}
	j := i
	for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
		j++
	}
	if j == i {
		return 0, false
	}
	n, err := strconv.Atoi(rest[:j])
	if err != nil {
		return 0, false
	}
	return n, true
}

// lessTensorName is llama_model_loader's weight_name_comparer: tensors without a "blk.N."
// prefix (layer -1) first, then by layer number, then by name.
func lessTensorName(a, b string) bool {
	la, ok := layerOf(a)
	if !ok {
		la = -1
	}
	lb, ok := layerOf(b)
	if !ok {
		lb = -1
	}
	if la != lb {
		return la < lb
	}
	return a < b
}
