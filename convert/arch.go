package convert

import (
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// architecture is what one model family contributes to the conversion; each lives in its own
// file (arch_llama.go, arch_qwen2.go ...) and registers itself in init. The shared machinery
// (hparams parsing, llama.cpp's common keys, tensor streaming, tokenizers) lives elsewhere.
type architecture interface {
	// hfNames lists the config.json "architectures" values this family converts.
	hfNames() []string
	// ggufArch is the GGUF architecture written to general.architecture.
	ggufArch() string
	// modelType is the config.json model_type written when converting back to Hugging Face.
	modelType() string
	// defaults are transformers' config-class defaults for fields config.json may omit.
	defaults() hfDefaults
	// permuteQK reports whether q/k projections are stored with llama.cpp's row permutation.
	permuteQK() bool
	// attention reports whether a model of this family described by config.json hp has q/k/v
	// biases and per-head q/k norms, with bias what the biases are where the family reads
	// attention_bias and the config does not give it.
	attention(hp *hparams, bias bool) (attentionBias, qkNorm bool, err error)
	// tensors maps the HF per-layer tensor stems (after "model.layers.N.") to GGUF stems (after
	// "blk.N."); the global tensors are shared by every family.
	tensors() map[string]string
	// params appends the keys the family writes after llama.cpp's common ones.
	params(md *mdBuilder, hp *hparams, c Config) error
	// vocab writes the tokenizer keys from the files in dir.
	vocab(md *mdBuilder, dir string, hp *hparams, c Config, opts Options) error
	// hfConfig adds the family's fields to the config.json written by the way back.
	hfConfig(cfg *orderedJSON, c Config, md gguf.Metadata)
}

// extendedArch is implemented by the families whose models need more than the llama family's
// settings (gemma2, gemma3, phi3): they fill the Config fields that are theirs alone, both from
// a GGUF file and from a config.json, so the knowledge of each key stays in the family's file.
type extendedArch interface {
	// configFromGGUF sets the family's fields of c from metadata md and, when not nil, the
	// tensors of the file.
	configFromGGUF(c *Config, md gguf.Metadata, tensors []gguf.TensorInfo)
	// configFromHF sets them from config.json hp (over c's values when hp leaves a field out).
	configFromHF(c *Config, hp *hparams) error
	// ggufKeys returns the metadata keys that give configFromGGUF c's family fields.
	ggufKeys(c Config) gguf.Metadata
}

// FamilyKeys returns the GGUF metadata keys, beyond the llama family's, that describe c's
// family settings (soft caps, sliding windows, the local RoPE base, LongRoPE's original context
// and attention factor): what a writer of a model file from a Config (synthetic models, a
// trained student) adds so that ConfigFromGGUF reads the same Config back. Nil for the llama
// family.
func FamilyKeys(c Config) gguf.Metadata {
	a, ok := ggufFamily(c.Arch)
	if !ok {
		return nil
	}
	if e, ok := a.(extendedArch); ok {
		return e.ggufKeys(c)
	}
	return nil
}

// sparseConfig is implemented by families whose config.json commonly leaves out fields that
// transformers' config class fills in (Gemma 3's text_config inside
// Gemma3ForConditionalGeneration gives little more than the sizes); llama.cpp reads the filled
// dictionary (AutoConfig.to_dict()), so a complete read fills them in first.
type sparseConfig interface {
	// configDefaults are the config class's defaults, as JSON values.
	configDefaults() map[string]any
}

// fillConfigDefaults adds a's config-class defaults to a complete config.json hp for the fields
// it leaves out entirely (a field present as null stays null).
func fillConfigDefaults(hp *hparams, a architecture) {
	sc, ok := a.(sparseConfig)
	if !ok {
		return
	}
	for k, v := range sc.configDefaults() {
		if _, present := hp.m[k]; !present {
			hp.m[k] = v
		}
	}
}

// ownParams is implemented by the families whose llama.cpp class writes its hyperparameters
// itself instead of TextModel.set_gguf_parameters' common keys (gemma2, phi3): params then
// writes them all.
type ownParams interface {
	ownParams()
}

// tensorPlanner is implemented by the families that change tensors on the way to GGUF: it may
// drop a tensor (skip), or shift its values (Gemma's norm weights + 1), and adds the tensors
// llama.cpp's converter computes (Phi-3's LongRoPE factors) in front of the checkpoint's.
type tensorPlanner interface {
	// skipTensor reports whether the checkpoint tensor hfName is left out.
	skipTensor(hfName string) bool
	// shift is the value added to every element of GGUF tensor name (0: none).
	shift(name string) float32
	// extraTensors returns the computed tensors, in llama.cpp's order, and the metadata keys
	// computing them adds (written right after general.architecture, as llama.cpp's converter
	// prepares its tensors before the rest of the metadata).
	extraTensors(hp *hparams, c Config) ([]SourceTensor, []gguf.KV, error)
}

// hfDefaults are the transformers defaults (the values AutoConfig fills in) for the fields
// llama.cpp reads but config.json may leave out.
type hfDefaults struct {
	contextLength int
	rmsNormEps    float64
	ropeTheta     float64
}

var registry = map[string]architecture{}

// register adds an architecture under each of its Hugging Face names.
func register(a architecture) {
	for _, n := range a.hfNames() {
		registry[n] = a
	}
}

// SupportedArchitectures lists the config.json "architectures" values Convert accepts.
func SupportedArchitectures() []string {
	out := make([]string, 0, len(registry))
	for n := range registry {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

// SupportedGGUFArchitectures lists the GGUF architectures (general.architecture) of the
// supported families, which ConfigFromGGUF reads; mistral converts to "llama".
func SupportedGGUFArchitectures() []string {
	var out []string
	for _, a := range registry {
		if !slices.Contains(out, a.ggufArch()) {
			out = append(out, a.ggufArch())
		}
	}
	sort.Strings(out)
	return out
}

// ggufFamily returns a family that converts to GGUF architecture arch. Families sharing one
// (llama, mistral) share its tensors and RoPE ordering.
func ggufFamily(arch string) (architecture, bool) {
	for _, n := range SupportedArchitectures() {
		if a := registry[n]; a.ggufArch() == arch {
			return a, true
		}
	}
	return nil, false
}

// lookupArch picks the family for a config.json: its first "architectures" entry, as llama.cpp
// does.
func lookupArch(hp *hparams) (string, architecture, error) {
	names := hp.strings("architectures")
	if len(names) == 0 {
		return "", nil, fmt.Errorf("%w: %s: field \"architectures\" missing or empty (supported: %s)", ErrBadInput, hp.path, strings.Join(SupportedArchitectures(), ", "))
	}
	a, ok := registry[names[0]]
	if !ok {
		return "", nil, fmt.Errorf("%w: %s: unsupported architecture %q (supported: %s)", ErrBadInput, hp.path, names[0], strings.Join(SupportedArchitectures(), ", "))
	}
	return names[0], a, nil
}

// lookupArchOrType picks the family of a config.json that may be partial: its first
// "architectures" entry, else its model_type; nil when it names neither.
func lookupArchOrType(hp *hparams) (architecture, error) {
	if len(hp.strings("architectures")) > 0 {
		_, a, err := lookupArch(hp)
		return a, err
	}
	mt := hp.str("model_type")
	if mt == "" {
		return nil, nil
	}
	for _, n := range SupportedArchitectures() {
		if a := registry[n]; a.modelType() == mt {
			return a, nil
		}
	}
	return nil, fmt.Errorf("%w: %s: unsupported model_type %q (supported architectures: %s)", ErrBadInput, hp.path, mt, strings.Join(SupportedArchitectures(), ", "))
}

// globalTensors maps the HF names shared by every family to GGUF names.
var globalTensors = map[string]string{
	"model.embed_tokens": "token_embd",
	"model.norm":         "output_norm",
	"lm_head":            "output",
}

// mapTensorName returns the GGUF name of the HF tensor name, or "" if the family has none. The
// suffix (".weight" or ".bias") is kept; the block number must be below layers.
func mapTensorName(a architecture, name string, layers int) string {
	base, suffix := name, ""
	for _, s := range []string{".weight", ".bias"} {
		if strings.HasSuffix(name, s) {
			base, suffix = strings.TrimSuffix(name, s), s
			break
		}
	}
	if g, ok := globalTensors[base]; ok {
		return g + suffix
	}
	rest, ok := strings.CutPrefix(base, "model.layers.")
	if !ok {
		return ""
	}
	num, stem, ok := strings.Cut(rest, ".")
	if !ok {
		return ""
	}
	bid, err := strconv.Atoi(num)
	if err != nil || bid < 0 || bid >= layers || strconv.Itoa(bid) != num {
		return ""
	}
	g, ok := a.tensors()[stem]
	if !ok {
		return ""
	}
	return "blk." + num + "." + g + suffix
}

// llamaLayerTensors are the per-layer tensors of the llama family in HF and GGUF spelling.
var llamaLayerTensors = map[string]string{
	"input_layernorm":          "attn_norm",
	"self_attn.q_proj":         "attn_q",
	"self_attn.k_proj":         "attn_k",
	"self_attn.v_proj":         "attn_v",
	"self_attn.o_proj":         "attn_output",
	"post_attention_layernorm": "ffn_norm",
	"mlp.gate_proj":            "ffn_gate",
	"mlp.up_proj":              "ffn_up",
	"mlp.down_proj":            "ffn_down",
}

// qkNormTensors adds the per-head q/k norms of qwen3.
var qkNormTensors = map[string]string{
	"self_attn.q_norm": "attn_q_norm",
	"self_attn.k_norm": "attn_k_norm",
}

// hfTensorName inverts mapTensorName for the way back.
func hfTensorName(a architecture, name string) (string, bool) {
	base, suffix := name, ""
	for _, s := range []string{".weight", ".bias"} {
		if strings.HasSuffix(name, s) {
			base, suffix = strings.TrimSuffix(name, s), s
			break
		}
	}
	for hf, g := range globalTensors {
		if g == base {
			return hf + suffix, true
		}
	}
	rest, ok := strings.CutPrefix(base, "blk.")
	if !ok {
		return "", false
	}
	num, stem, ok := strings.Cut(rest, ".")
	if !ok {
		return "", false
	}
	if _, err := strconv.Atoi(num); err != nil {
		return "", false
	}
	for hf, g := range a.tensors() {
		if g == stem {
			return "model.layers." + num + "." + hf + suffix, true
		}
	}
	return "", false
}
