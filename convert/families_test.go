package convert

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// famCheckpoint is a tiny Gemma 2, Gemma 3 or Phi-3 checkpoint: its tensors in Hugging Face
// names and PyTorch shapes, and its config.json.
type famCheckpoint struct {
	arch    string
	tensors []safetensors.TensorInfo
	config  map[string]any
}

const famVocab = 300 // spmSample's byte pieces need more than 259

// famCheckpointOf returns the checkpoint of family arch (gemma2, gemma3, phi3) in dtype d:
// head_dim ≠ hidden/heads for Gemma, GQA, rows that are not multiples of 32.
func famCheckpointOf(arch string, d safetensors.DType) famCheckpoint {
	hidden, layers, heads, kv, hd, ffn := 40, 3, 4, 2, 12, 56
	if arch == "phi3" {
		hidden, hd = 64, 16 // Phi-3 has no head_dim: hidden/heads
	}
	c := famCheckpoint{arch: arch}
	add := func(name string, shape ...int64) {
		c.tensors = append(c.tensors, safetensors.TensorInfo{Name: name, DType: d, Shape: shape})
	}
	h, q, kvd, f, v := int64(hidden), int64(heads*hd), int64(kv*hd), int64(ffn), int64(famVocab)
	add("model.embed_tokens.weight", v, h)
	add("model.norm.weight", h)
	if arch != "gemma3" {
		add("lm_head.weight", v, h) // dropped for gemma2, untied for phi3
	}
	for l := range layers {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", h)
		add(p+"post_attention_layernorm.weight", h)
		add(p+"self_attn.o_proj.weight", h, q)
		add(p+"mlp.down_proj.weight", h, f)
		switch arch {
		case "phi3":
			add(p+"self_attn.qkv_proj.weight", q+2*kvd, h)
			add(p+"mlp.gate_up_proj.weight", 2*f, h)
		default:
			add(p+"self_attn.q_proj.weight", q, h)
			add(p+"self_attn.k_proj.weight", kvd, h)
			add(p+"self_attn.v_proj.weight", kvd, h)
			add(p+"mlp.gate_proj.weight", f, h)
			add(p+"mlp.up_proj.weight", f, h)
			add(p+"pre_feedforward_layernorm.weight", h)
			add(p+"post_feedforward_layernorm.weight", h)
		}
		if arch == "gemma3" {
			add(p+"self_attn.q_norm.weight", int64(hd))
			add(p+"self_attn.k_norm.weight", int64(hd))
		}
	}
	sort.Slice(c.tensors, func(a, b int) bool { return c.tensors[a].Name < c.tensors[b].Name })
	c.config = map[string]any{
		"vocab_size": famVocab, "hidden_size": hidden, "intermediate_size": ffn, "num_hidden_layers": layers,
		"num_attention_heads": heads, "num_key_value_heads": kv, "rms_norm_eps": 1e-6, "bos_token_id": 1, "eos_token_id": 2,
	}
	switch arch {
	case "gemma2":
		c.config["architectures"], c.config["model_type"] = []string{"Gemma2ForCausalLM"}, "gemma2"
		c.config["head_dim"], c.config["max_position_embeddings"] = hd, 8192
		c.config["attn_logit_softcapping"], c.config["final_logit_softcapping"] = 50.0, 30.0
		c.config["sliding_window"], c.config["query_pre_attn_scalar"] = 4096, hd
		c.config["rope_theta"] = 10000.0
	case "gemma3":
		c.config["architectures"], c.config["model_type"] = []string{"Gemma3ForCausalLM"}, "gemma3_text"
		c.config["head_dim"], c.config["max_position_embeddings"] = hd, 32768
		c.config["sliding_window"], c.config["sliding_window_pattern"] = 512, 6
		c.config["rope_theta"], c.config["rope_local_base_freq"] = 1000000.0, 10000.0
		c.config["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": 8.0}
		c.config["final_logit_softcapping"], c.config["attn_logit_softcapping"] = nil, nil
		c.config["tie_word_embeddings"] = true
	case "phi3":
		c.config["architectures"], c.config["model_type"] = []string{"Phi3ForCausalLM"}, "phi3"
		c.config["max_position_embeddings"], c.config["original_max_position_embeddings"] = 131072, 4096
		c.config["partial_rotary_factor"] = 0.75
		c.config["rope_theta"], c.config["sliding_window"] = 10000.0, nil
		c.config["tie_word_embeddings"] = false
		c.config["rope_scaling"] = map[string]any{"type": "longrope",
			"short_factor": []float64{1, 1.01, 1.1, 1.3, 1.7, 2}, "long_factor": []float64{1.5, 2.25, 3.3, 7.123456789, 9, 11}}
	}
	return c
}

// write creates the checkpoint folder (with a SentencePiece tokenizer) in dir.
func (c famCheckpoint) write(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{}
	for k, v := range c.config {
		cfg[k] = v
	}
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), map[string]string{"format": "pt"}, c.tensors, func(w *safetensors.Writer) error {
		for _, ti := range c.tensors {
			if err := w.WriteTensor(ti.Name, encodeValues(synthValues(ti.Name, ti.NumElements()), ti.DType)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	writeSPM(t, dir, famVocab)
}

// convertFam writes and converts c, returning the open output and the Source's Config.
func convertFam(t *testing.T, c famCheckpoint, out OutType) (*gguf.File, Config) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), c.arch)
	c.write(t, dir)
	src, err := OpenSource(dir, Options{OutType: out})
	if err != nil {
		t.Fatal(err)
	}
	cfg := src.Config
	src.Close()
	path := filepath.Join(t.TempDir(), "out.gguf")
	if _, err := Convert(context.Background(), dir, path, Options{OutType: out}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, cfg
}

// TestFamilyMetadata: the family keys each llama.cpp class writes, in its order (read from
// conversion/gemma.py, phi.py and base.py at 3f545be): Gemma 2's and Phi-3's own
// set_gguf_parameters, Gemma 3's common keys with its rewrites in place and additions; the
// values the runtime needs; and the Config the Source reports equals the one read back.
func TestFamilyMetadata(t *testing.T) {
	for _, c := range []struct {
		arch string
		keys []string // the arch-prefixed keys and general.file_type, in order
		vals map[string]any
	}{
		{"gemma2", []string{"context_length", "embedding_length", "block_count", "feed_forward_length",
			"attention.head_count", "attention.head_count_kv", "attention.layer_norm_rms_epsilon",
			"attention.key_length", "attention.value_length", "general.file_type", "attn_logit_softcapping",
			"final_logit_softcapping", "attention.sliding_window"},
			map[string]any{"attn_logit_softcapping": float32(50), "final_logit_softcapping": float32(30), "attention.sliding_window": uint32(4096), "attention.key_length": uint32(12)}},
		{"gemma3", []string{"block_count", "context_length", "embedding_length", "feed_forward_length",
			"attention.head_count", "attention.head_count_kv", "rope.scaling.type", "rope.scaling.factor",
			"rope.freq_base", "rope.freq_base_swa", "attention.layer_norm_rms_epsilon", "attention.key_length",
			"attention.value_length", "general.file_type", "attention.sliding_window"},
			map[string]any{"rope.freq_base": float32(1e6), "rope.freq_base_swa": float32(10000), "attention.sliding_window": uint32(512), "rope.scaling.factor": float32(8)}},
		{"phi3", []string{"rope.scaling.attn_factor", "context_length", "rope.scaling.original_context_length",
			"embedding_length", "feed_forward_length", "block_count", "attention.head_count", "attention.head_count_kv",
			"attention.layer_norm_rms_epsilon", "rope.dimension_count", "rope.freq_base", "general.file_type",
			"attention.sliding_window"},
			map[string]any{"rope.dimension_count": uint32(12), "attention.sliding_window": uint32(0), "rope.scaling.original_context_length": uint32(4096),
				"rope.scaling.attn_factor": float32(math.Sqrt(1 + math.Log(32)/math.Log(4096)))}},
	} {
		t.Run(c.arch, func(t *testing.T) {
			f, cfg := convertFam(t, famCheckpointOf(c.arch, safetensors.BF16), OutF16)
			var got []string
			for _, kv := range f.Metadata {
				if k, ok := strings.CutPrefix(kv.Key, c.arch+"."); ok {
					got = append(got, k)
				} else if kv.Key == "general.file_type" {
					got = append(got, kv.Key)
				}
			}
			if !slices.Equal(got, c.keys) {
				t.Errorf("keys\n got %q\nwant %q", got, c.keys)
			}
			if f.Metadata[0].Key != "general.architecture" || (c.arch == "phi3" && f.Metadata[1].Key != "phi3.rope.scaling.attn_factor") {
				t.Errorf("first keys %q, %q", f.Metadata[0].Key, f.Metadata[1].Key)
			}
			for k, want := range c.vals {
				if v, _ := f.Metadata.Lookup(c.arch + "." + k); !reflect.DeepEqual(v, want) {
					t.Errorf("%s = %#v, want %#v", k, v, want)
				}
			}
			if v, _ := f.Metadata.Lookup("general.file_type"); v != uint32(1) {
				t.Errorf("general.file_type = %v, want 1 (F16)", v)
			}
			if c.arch != "phi3" {
				if v, _ := f.Metadata.Lookup("tokenizer.ggml.add_space_prefix"); v != false {
					t.Errorf("add_space_prefix = %v, want false", v)
				}
			}
			back, err := ConfigFromGGUF(f.Metadata, f.Tensors)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back, cfg) {
				t.Errorf("Source.Config\n%+v\nread back\n%+v", cfg, back)
			}
		})
	}
}

// TestFamilyTensors: names, order, shapes and types of the tensors written, Gemma's norms
// shifted by one (rounded to F16 in an F16 checkpoint, as torch adds in F16), Gemma 2's lm_head
// dropped, Phi-3's fused tensors kept and its LongRoPE factors first.
func TestFamilyTensors(t *testing.T) {
	for _, arch := range []string{"gemma2", "gemma3", "phi3"} {
		for _, d := range []safetensors.DType{safetensors.F16, safetensors.BF16} {
			t.Run(arch+"/"+string(d), func(t *testing.T) {
				ck := famCheckpointOf(arch, d)
				f, _ := convertFam(t, ck, OutF32)
				var want []string
				if arch == "phi3" {
					want = append(want, "rope_factors_long.weight", "rope_factors_short.weight")
				}
				a := registry[ck.config["architectures"].([]string)[0]]
				for _, ti := range ck.tensors {
					if arch == "gemma2" && ti.Name == "lm_head.weight" {
						continue
					}
					want = append(want, mapTensorName(a, ti.Name, 3))
				}
				if got := tensorNames(f); !slices.Equal(got, want) {
					t.Fatalf("tensors\n got %q\nwant %q", got, want)
				}
				for _, ti := range ck.tensors {
					name := mapTensorName(a, ti.Name, 3)
					idx, ok := f.TensorIndex(name)
					if !ok {
						continue
					}
					raw := encodeValues(synthValues(ti.Name, ti.NumElements()), d)
					vals := make([]float32, ti.NumElements())
					decodeF32(vals, raw, d)
					shift := arch != "phi3" && strings.HasSuffix(name, "norm.weight")
					for j := range vals {
						if shift {
							vals[j]++
							if d == safetensors.F16 {
								vals[j] = dtype.F16ToF32(dtype.F32ToF16(vals[j]))
							}
						}
					}
					got := make([]float32, len(vals))
					dtype.DecodeF32(got, f.TensorData(idx))
					if !slices.Equal(got, vals) {
						t.Fatalf("%s: values differ (shift %t)", name, shift)
					}
					if arch == "phi3" && strings.HasSuffix(name, "ffn_up.weight") && f.Tensors[idx].Dims[1] != 2*56 ||
						arch == "phi3" && strings.HasSuffix(name, "attn_qkv.weight") && f.Tensors[idx].Dims[1] != (4+2*2)*16 {
						t.Fatalf("%s dims %v: want the gate and up rows fused", name, f.Tensors[idx].Dims)
					}
				}
				if arch == "phi3" {
					idx, _ := f.TensorIndex("rope_factors_long.weight")
					got := make([]float32, 6)
					dtype.DecodeF32(got, f.TensorData(idx))
					if want := []float32{1.5, 2.25, 3.3, 7.123456789, 9, 11}; !slices.Equal(got, want) {
						t.Fatalf("rope_factors_long = %v, want %v", got, want)
					}
				}
			})
		}
	}
}

// TestFamilyBadConfigs: configurations llama.cpp's converter refuses get a clear error naming
// the file (ErrBadInput, which the CLI turns into exit status 2).
func TestFamilyBadConfigs(t *testing.T) {
	for _, c := range []struct {
		name, arch string
		edit       func(*famCheckpoint)
		want       string
	}{
		{"phi3 unknown rope scaling type", "phi3", func(c *famCheckpoint) {
			c.config["rope_scaling"] = map[string]any{"type": "dynamic", "short_factor": []float64{1, 1, 1, 1, 1, 1}, "long_factor": []float64{1, 1, 1, 1, 1, 1}}
		}, `RoPE scaling type "dynamic" is not supported`},
		{"phi3 factor count", "phi3", func(c *famCheckpoint) {
			c.config["rope_scaling"] = map[string]any{"type": "longrope", "short_factor": []float64{1, 1}, "long_factor": []float64{1, 1}}
		}, "long_factor has 2 values, want 6"},
		{"phi3 partial rotary", "phi3", func(c *famCheckpoint) { c.config["partial_rotary_factor"] = 0.1 }, "partial_rotary_factor"},
		{"gemma2 null soft-cap", "gemma2", func(c *famCheckpoint) { c.config["attn_logit_softcapping"] = nil }, "attn_logit_softcapping"},
		{"gemma2 no head_dim", "gemma2", func(c *famCheckpoint) { delete(c.config, "head_dim") }, "head dimension 10"},
		{"gemma3 vision tower only", "gemma3", func(c *famCheckpoint) {
			c.config["architectures"] = []string{"Gemma3ForConditionalGeneration"}
			c.tensors = []safetensors.TensorInfo{{Name: "vision_tower.vision_model.embeddings.patch_embedding.weight", DType: safetensors.F32, Shape: []int64{4, 4}}}
		}, "no tensors"},
	} {
		t.Run(c.name, func(t *testing.T) {
			ck := famCheckpointOf(c.arch, safetensors.F32)
			c.edit(&ck)
			dir := filepath.Join(t.TempDir(), "m")
			ck.write(t, dir)
			_, err := Convert(context.Background(), dir, filepath.Join(t.TempDir(), "out.gguf"), Options{})
			if err == nil || !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("error %v: want ErrBadInput with %q", err, c.want)
			}
		})
	}
}

// TestFamilyHFConfig: ParseHFConfig reads the family fields from a config.json the way the
// converted file's metadata gives them to the runtime.
func TestFamilyHFConfig(t *testing.T) {
	for _, arch := range []string{"gemma2", "gemma3", "phi3"} {
		t.Run(arch, func(t *testing.T) {
			ck := famCheckpointOf(arch, safetensors.BF16)
			_, want := convertFam(t, ck, OutF16)
			b, err := json.Marshal(ck.config)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ParseHFConfig(b, "config.json", Config{})
			if err != nil {
				t.Fatal(err)
			}
			if got.EmbedScale != want.EmbedScale || got.PostNorms != want.PostNorms || got.GELU != want.GELU ||
				got.AttnSoftcap != want.AttnSoftcap || got.FinalSoftcap != want.FinalSoftcap ||
				got.SlidingWindow != want.SlidingWindow || got.SWAPattern != want.SWAPattern ||
				got.RopeThetaSWA != want.RopeThetaSWA || got.RopeDim != want.RopeDim ||
				got.RopeScaling.Type != want.RopeScaling.Type || got.RopeScaling.OriginalContext != want.RopeScaling.OriginalContext ||
				math.Abs(got.RopeScaling.AttnFactor-want.RopeScaling.AttnFactor) > 1e-6 {
				t.Errorf("ParseHFConfig\n%+v\nconverted\n%+v", got, want)
			}
		})
	}
}

// TestFamilyRoundTrip: GGUF → Hugging Face → GGUF gives the same bytes for each family: Gemma's
// norms come back as w (stored 1+w minus one), Phi-3's LongRoPE factors go back into
// rope_scaling and its fused tensors keep their names, the family keys are rebuilt from
// config.json.
func TestFamilyRoundTrip(t *testing.T) {
	for _, arch := range []string{"gemma2", "gemma3", "phi3"} {
		for _, ot := range []OutType{OutF32, OutBF16} {
			t.Run(arch+"/"+string(ot), func(t *testing.T) {
				ck := famCheckpointOf(arch, safetensors.BF16)
				if arch == "gemma2" {
					// Gemma 2 drops lm_head, so a file with one cannot come back.
					ck.tensors = slices.DeleteFunc(ck.tensors, func(ti safetensors.TensorInfo) bool { return ti.Name == "lm_head.weight" })
				}
				f, _ := convertFam(t, ck, ot)
				dir := filepath.Join(t.TempDir(), arch) // the same folder name: general.name comes from it
				res, err := ToHF(context.Background(), f.Path, dir, HFOptions{})
				if err != nil {
					t.Fatal(err)
				}
				if len(res.Notes) != 0 {
					t.Errorf("notes: %v", res.Notes)
				}
				out := filepath.Join(t.TempDir(), "again.gguf")
				if _, err := Convert(context.Background(), dir, out, Options{OutType: res.OutType}); err != nil {
					t.Fatal(err)
				}
				sameFile(t, out, f.Path)
			})
		}
	}
}

// TestPhi3Vocab: Phi3MiniModel's SentencePiece reading — added_tokens.json (ids beyond the
// vocabulary ignored), then tokenizer_config.json's added_tokens_decoder (special: CONTROL,
// else USER_DEFINED, content kept as is), all scored -1000 — and the GPT-2 BPE path for
// tokenizer_class GPT2Tokenizer.
func TestPhi3Vocab(t *testing.T) {
	ck := famCheckpointOf("phi3", safetensors.F32)
	dir := filepath.Join(t.TempDir(), "phi3")
	ck.write(t, dir)
	writeJSON(t, filepath.Join(dir, "added_tokens.json"), map[string]any{"<|x|>": 297, "<|oob|>": 500})
	writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), map[string]any{"added_tokens_decoder": map[string]any{
		"299": map[string]any{"content": "<|end|>", "special": true},
		"298": map[string]any{"content": "\u2581<|user|>", "special": false},
	}})
	src, err := OpenSource(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	toks, _ := src.Metadata.Strings("tokenizer.ggml.tokens")
	arr, _ := src.Metadata.Array("tokenizer.ggml.token_type")
	types := arr.Values.([]int32)
	for _, c := range []struct {
		id   int
		text string
		typ  int32
	}{{297, "<|x|>", TokenUserDefined}, {298, "\u2581<|user|>", TokenUserDefined}, {299, "<|end|>", TokenControl}, {3, "<0x00>", TokenByte}} {
		if toks[c.id] != c.text || types[c.id] != c.typ {
			t.Errorf("token %d = %q type %d, want %q type %d", c.id, toks[c.id], types[c.id], c.text, c.typ)
		}
	}
	if len(toks) != famVocab {
		t.Errorf("%d tokens, want %d", len(toks), famVocab)
	}

	bpe := filepath.Join(t.TempDir(), "phi4")
	ck.write(t, bpe)
	os.Remove(filepath.Join(bpe, "tokenizer.model"))
	writeBPETokenizer(t, bpe, "bpe-llama3", famVocab-8)
	writeJSON(t, filepath.Join(bpe, "tokenizer_config.json"), map[string]any{"tokenizer_class": "GPT2Tokenizer"})
	src2, err := OpenSource(bpe, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer src2.Close()
	if m, _ := src2.Metadata.String("tokenizer.ggml.model"); m != "gpt2" {
		t.Errorf("tokenizer model %q, want gpt2", m)
	}
}

// TestGemma3ConditionalGeneration: the text part of a Gemma3ForConditionalGeneration checkpoint
// (weights under language_model., a vision tower and projector beside them, a text_config that
// gives only the sizes) converts like a Gemma3ForCausalLM one with Gemma3TextConfig's defaults
// filled in, as llama.cpp's AutoConfig-based reading does.
func TestGemma3ConditionalGeneration(t *testing.T) {
	ck := famCheckpointOf("gemma3", safetensors.BF16)
	for i := range ck.tensors {
		ck.tensors[i].Name = strings.Replace(ck.tensors[i].Name, "model.", "model.language_model.", 1)
	}
	ck.tensors = append(ck.tensors,
		safetensors.TensorInfo{Name: "model.vision_tower.vision_model.embeddings.patch_embedding.weight", DType: safetensors.BF16, Shape: []int64{8, 4}},
		safetensors.TensorInfo{Name: "model.multi_modal_projector.mm_input_projection_weight", DType: safetensors.BF16, Shape: []int64{4, 40}})
	sort.Slice(ck.tensors, func(a, b int) bool { return ck.tensors[a].Name < ck.tensors[b].Name })
	ck.config = map[string]any{
		"architectures": []string{"Gemma3ForConditionalGeneration"}, "model_type": "gemma3",
		"text_config": map[string]any{"model_type": "gemma3_text", "hidden_size": 40, "intermediate_size": 56,
			"num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 12,
			"vocab_size": famVocab, "sliding_window": 512, "rope_scaling": map[string]any{"rope_type": "linear", "factor": 8.0}},
		"vision_config": map[string]any{"model_type": "siglip_vision_model"},
	}
	f, _ := convertFam(t, ck, OutF16)
	if got := tensorNames(f); len(got) != 2+3*13 {
		t.Errorf("%d tensors (%q): want the text model's 41", len(got), got)
	}
	for k, want := range map[string]any{"gemma3.context_length": uint32(131072), "gemma3.rope.freq_base": float32(1e6),
		"gemma3.rope.freq_base_swa": float32(10000), "gemma3.attention.layer_norm_rms_epsilon": float32(1e-6),
		"gemma3.attention.sliding_window": uint32(512), "gemma3.attention.key_length": uint32(12)} {
		if v, _ := f.Metadata.Lookup(k); !reflect.DeepEqual(v, want) {
			t.Errorf("%s = %#v, want %#v", k, v, want)
		}
	}
	if f.Metadata.Has("gemma3.final_logit_softcapping") {
		t.Error("final_logit_softcapping written for a config without one")
	}
}
