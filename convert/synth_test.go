package convert

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// convertSynth writes s into a folder named name, converts it and opens the result.
func convertSynth(t *testing.T, s synth, name string, opts Options) (*gguf.File, string) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), name)
	s.write(t, dir)
	out := filepath.Join(t.TempDir(), "out.gguf")
	if _, err := Convert(context.Background(), dir, out, opts); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f, dir
}

// wantTensors lists the GGUF tensor names llama.cpp writes for s, in its order: the HF names
// sorted, each renamed (rope_freqs first when generated).
func wantTensors(s synth, ropeFreqs bool) []string {
	var out []string
	if ropeFreqs {
		out = append(out, "rope_freqs.weight")
	}
	a := registry[s.arch]
	for _, ti := range s.hfTensors() {
		out = append(out, mapTensorName(a, ti.Name, s.layers))
	}
	return out
}

func tensorNames(f *gguf.File) []string {
	out := make([]string, len(f.Tensors))
	for i, t := range f.Tensors {
		out[i] = t.Name
	}
	return out
}

// The metadata keys llama.cpp writes, by section (convert_hf_to_gguf.py and gguf-py, read at
// ngxson/llama.cpp 3f545be): the header, TextModel.set_gguf_parameters, then the vocabulary.
func headerKeys(arch string) []string {
	return []string{"general.architecture", "general.type", "general.name", "general.size_label",
		arch + ".block_count", arch + ".context_length", arch + ".embedding_length", arch + ".feed_forward_length",
		arch + ".attention.head_count", arch + ".attention.head_count_kv"}
}

func TestSyntheticArchitectures(t *testing.T) {
	base := synth{hidden: 64, layers: 2, heads: 4, kv: 2, ffn: 96, vocab: 320, dtype: safetensors.BF16}
	cases := []struct {
		name      string
		s         synth
		keys      []string
		ropeFreqs bool
		check     func(t *testing.T, f *gguf.File)
	}{
		{
			name: "qwen2 biases tied bpe",
			s: func() synth {
				s := base
				s.arch, s.modelType, s.biases, s.tied, s.tokenizer = "Qwen2ForCausalLM", "qwen2", true, true, "bpe-qwen2"
				s.config = map[string]any{"bos_token_id": 312, "eos_token_id": 314, "sliding_window": 4096, "use_sliding_window": false}
				return s
			}(),
			keys: append(headerKeys("qwen2"), "qwen2.rope.freq_base", "qwen2.attention.layer_norm_rms_epsilon",
				"general.file_type", "general.quantization_version", "tokenizer.ggml.model", "tokenizer.ggml.pre",
				"tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
				"tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.bos_token_id",
				"tokenizer.chat_template"),
			check: func(t *testing.T, f *gguf.File) {
				md := f.Metadata
				if pre, _ := md.String("tokenizer.ggml.pre"); pre != "qwen2" {
					t.Errorf("pre %q", pre)
				}
				if m, _ := md.String("tokenizer.ggml.model"); m != "gpt2" {
					t.Errorf("model %q", m)
				}
				if _, ok := f.Tensor("output.weight"); ok {
					t.Error("tied model has output.weight")
				}
				b, ok := f.Tensor("blk.1.attn_k.bias")
				if !ok || b.Type != gguf.TypeF32 || !reflect.DeepEqual(b.Dims, []uint64{32}) {
					t.Errorf("attn_k.bias: %+v", b)
				}
				if id, _ := md.Uint("tokenizer.ggml.eos_token_id"); id != 314 {
					t.Errorf("eos %d (want <|im_end|> = 314 from tokenizer_config)", id)
				}
				if id, _ := md.Uint("tokenizer.ggml.padding_token_id"); id != 312 {
					t.Errorf("pad %d", id)
				}
				toks, _ := md.Strings("tokenizer.ggml.tokens")
				types, _ := md.Int32s("tokenizer.ggml.token_type")
				if len(toks) != 320 || toks[312] != "<|endoftext|>" || types[312] != TokenControl || types[315] != TokenUserDefined || toks[316] != "[PAD316]" || types[316] != TokenUnused || types[5] != TokenNormal {
					t.Errorf("vocab: %d tokens, %q/%d %q/%d", len(toks), toks[312], types[312], toks[316], types[316])
				}
				merges, _ := md.Strings("tokenizer.ggml.merges")
				if len(merges) == 0 || strings.Count(merges[0], " ") != 1 {
					t.Errorf("merges %q", merges[:1])
				}
			},
		},
		{
			name: "qwen3 qk norms head_dim",
			s: func() synth {
				s := base
				s.arch, s.modelType, s.qkNorm, s.headDim, s.tokenizer = "Qwen3ForCausalLM", "qwen3", true, 32, "bpe-qwen2"
				s.config = map[string]any{"bos_token_id": nil, "attention_bias": false}
				return s
			}(),
			keys: append(headerKeys("qwen3"), "qwen3.rope.freq_base", "qwen3.attention.layer_norm_rms_epsilon",
				"qwen3.attention.key_length", "qwen3.attention.value_length",
				"general.file_type", "general.quantization_version", "tokenizer.ggml.model", "tokenizer.ggml.pre",
				"tokenizer.ggml.tokens", "tokenizer.ggml.token_type", "tokenizer.ggml.merges",
				"tokenizer.ggml.eos_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.chat_template"),
			check: func(t *testing.T, f *gguf.File) {
				n, ok := f.Tensor("blk.0.attn_q_norm.weight")
				if !ok || n.Type != gguf.TypeF32 || !reflect.DeepEqual(n.Dims, []uint64{32}) {
					t.Errorf("attn_q_norm: %+v", n)
				}
				q, _ := f.Tensor("blk.0.attn_q.weight")
				if !reflect.DeepEqual(q.Dims, []uint64{64, 128}) {
					t.Errorf("attn_q dims %v (head_dim 32 x 4 heads = 128 rows)", q.Dims)
				}
				if v, _ := f.Metadata.Uint("qwen3.attention.key_length"); v != 32 {
					t.Errorf("key_length %d", v)
				}
				c, err := ConfigFromGGUF(f.Metadata, f.Tensors)
				if err != nil || !c.QKNorm || !c.RopeNeoX || c.HeadDim != 32 || c.AttentionBias {
					t.Errorf("config %+v %v", c, err)
				}
			},
		},
		{
			name: "mistral spm",
			s: func() synth {
				s := base
				s.arch, s.modelType, s.tokenizer = "MistralForCausalLM", "mistral", "spm"
				s.config = map[string]any{"sliding_window": 4096}
				return s
			}(),
			keys: append(headerKeys("llama"), "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon",
				"general.file_type", "llama.vocab_size", "llama.rope.dimension_count", "general.quantization_version",
				"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
				"tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
				"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token"),
			check: func(t *testing.T, f *gguf.File) {
				if f.Architecture() != "llama" {
					t.Errorf("arch %q", f.Architecture())
				}
				scores, _ := f.Metadata.Float32s("tokenizer.ggml.scores")
				types, _ := f.Metadata.Int32s("tokenizer.ggml.token_type")
				toks, _ := f.Metadata.Strings("tokenizer.ggml.tokens")
				// Pieces 0..315 from tokenizer.model, then [PADn] up to config vocab_size 320.
				if types[0] != TokenUnknown || types[1] != TokenControl || types[3] != TokenByte || types[300] != TokenNormal ||
					scores[300] != -41 || toks[317] != "[PAD317]" || scores[317] != -10000 || types[317] != TokenUnused {
					t.Errorf("spm vocab: %v %v %q %v", types[:4], scores[300], toks[317], scores[317])
				}
			},
		},
		{
			name: "llama tied llama3 rope bpe",
			s: func() synth {
				s := base
				s.arch, s.modelType, s.tied, s.tokenizer = "LlamaForCausalLM", "llama", true, "bpe-llama3"
				s.config = map[string]any{"rope_theta": 500000.0, "bos_token_id": 312, "eos_token_id": 313,
					"rope_scaling": map[string]any{"rope_type": "llama3", "factor": 32.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}
				return s
			}(),
			ropeFreqs: true,
			keys: append(headerKeys("llama"), "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon",
				"general.file_type", "llama.vocab_size", "llama.rope.dimension_count", "general.quantization_version",
				"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
				"tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
				// Llama 3's pair template [BOS A BOS B] makes llama.cpp write add_sep_token=false.
				"tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_sep_token"),
			check: func(t *testing.T, f *gguf.File) {
				if pre, _ := f.Metadata.String("tokenizer.ggml.pre"); pre != "llama-bpe" {
					t.Errorf("pre %q", pre)
				}
				if b, ok := f.Metadata.Bool("tokenizer.ggml.add_bos_token"); !ok || !b {
					t.Error("add_bos_token from the TemplateProcessing post-processor missing")
				}
				types, _ := f.Metadata.Int32s("tokenizer.ggml.token_type")
				toks, _ := f.Metadata.Strings("tokenizer.ggml.tokens")
				if types[314] != TokenControl || types[315] != TokenUserDefined || toks[315] != "my token" {
					t.Errorf("added tokens %q/%d %q/%d", toks[314], types[314], toks[315], types[315])
				}
				i, ok := f.TensorIndex("rope_freqs.weight")
				if !ok || f.Tensors[i].Type != gguf.TypeF32 || f.Tensors[i].Dims[0] != 8 {
					t.Fatalf("rope_freqs: %+v", f.Tensors[i])
				}
				got := f32Of(f.Tensors[i], f.TensorData(i))
				// Independent float64 evaluation of the llama3 formula.
				const theta, dim, factor, low, high, old = 500000.0, 16.0, 32.0, 1.0, 4.0, 64.0
				for k := range got {
					freq := 1 / math.Pow(theta, float64(2*k)/dim)
					wl := 2 * math.Pi / freq
					want := 1.0
					switch {
					case wl < old/high:
					case wl > old/low:
						want = factor
					default:
						sm := (old/wl - low) / (high - low)
						want = 1 / ((1-sm)/factor + sm)
					}
					if math.Abs(float64(got[k])-want) > 1e-5*want {
						t.Errorf("rope_freqs[%d] = %v, want %v", k, got[k], want)
					}
				}
				if got[0] != 1 || got[len(got)-1] != 32 {
					t.Errorf("rope_freqs ends %v %v", got[0], got[len(got)-1])
				}
				if _, ok := f.Tensor("output.weight"); ok {
					t.Error("tied model has output.weight")
				}
			},
		},
		{
			name: "llama hf tokenizer.json with byte fallback",
			s: func() synth {
				s := base
				s.arch, s.modelType, s.tokenizer = "LlamaForCausalLM", "llama", "llamahf"
				s.tokenizerConfig = map[string]any{"add_prefix_space": false, "chat_template": "{{ bos_token }}"}
				return s
			}(),
			keys: append(headerKeys("llama"), "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon",
				"general.file_type", "llama.vocab_size", "llama.rope.dimension_count", "general.quantization_version",
				"tokenizer.ggml.add_space_prefix", "tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
				"tokenizer.ggml.token_type", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
				"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.add_bos_token", "tokenizer.ggml.add_eos_token",
				"tokenizer.chat_template"),
			check: func(t *testing.T, f *gguf.File) {
				types, _ := f.Metadata.Int32s("tokenizer.ggml.token_type")
				toks, _ := f.Metadata.Strings("tokenizer.ggml.tokens")
				scores, _ := f.Metadata.Float32s("tokenizer.ggml.scores")
				if m, _ := f.Metadata.String("tokenizer.ggml.model"); m != "llama" || len(toks) != 317 {
					t.Errorf("model %q, %d tokens (316 base + 1 added)", m, len(toks))
				}
				if types[1] != TokenControl || types[3] != TokenByte || types[300] != TokenNormal || toks[316] != "<|user|>" || types[316] != TokenUserDefined || scores[300] != -1000 {
					t.Errorf("types %v %v %v, last %q/%d", types[1], types[3], types[300], toks[316], types[316])
				}
			},
		},
		{
			name: "smollm-like llama with digits pre-tokenizer",
			s: func() synth {
				s := base
				s.arch, s.modelType, s.tied, s.tokenizer = "LlamaForCausalLM", "llama", true, "bpe-smollm"
				return s
			}(),
			keys: append(headerKeys("llama"), "llama.rope.freq_base", "llama.attention.layer_norm_rms_epsilon",
				"general.file_type", "llama.vocab_size", "llama.rope.dimension_count", "general.quantization_version",
				"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.token_type",
				"tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id"),
			check: func(t *testing.T, f *gguf.File) {
				if pre, _ := f.Metadata.String("tokenizer.ggml.pre"); pre != "smollm" {
					t.Errorf("pre %q", pre)
				}
			},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			f, dir := convertSynth(t, c.s, "tiny-model", Options{OutType: OutF16})
			if got := keysOf(f.Metadata); !reflect.DeepEqual(got, c.keys) {
				t.Errorf("metadata keys\n got %q\nwant %q", got, c.keys)
			}
			for _, k := range keysOf(f.Metadata) {
				want := map[string]string{"general.architecture": "string", "general.file_type": "uint32",
					"general.quantization_version": "uint32", "tokenizer.ggml.tokens": "array<string>",
					"tokenizer.ggml.token_type": "array<int32>", "tokenizer.ggml.scores": "array<float32>",
					"tokenizer.ggml.merges": "array<string>"}[k]
				switch {
				case strings.HasSuffix(k, "_count") || strings.HasSuffix(k, "_length") || strings.HasSuffix(k, "_id") || strings.HasSuffix(k, "head_count_kv") || strings.HasSuffix(k, "vocab_size"):
					want = "uint32"
				case strings.HasSuffix(k, "freq_base") || strings.HasSuffix(k, "epsilon"):
					want = "float32"
				case strings.Contains(k, ".add_"):
					want = "bool"
				}
				if want != "" && typeOf(f.Metadata, k) != want {
					t.Errorf("%s: type %s, want %s", k, typeOf(f.Metadata, k), want)
				}
			}
			if got, want := tensorNames(f), wantTensors(c.s, c.ropeFreqs); !reflect.DeepEqual(got, want) {
				t.Errorf("tensors\n got %q\nwant %q", got, want)
			}
			checkTensorData(t, f, c.s, dir)
			if c.check != nil {
				c.check(t, f)
			}
		})
	}
}

// checkTensorData verifies every tensor against the checkpoint: dims reversed, F32 for 1-D and
// norms, F16 values equal to the source rounded, and llama's q/k rows permuted.
func checkTensorData(t *testing.T, f *gguf.File, s synth, dir string) {
	t.Helper()
	a := registry[s.arch]
	c, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for _, e := range c.Entries() {
		name := mapTensorName(a, e.Name, s.layers)
		i, ok := f.TensorIndex(name)
		if !ok {
			t.Errorf("%s -> %s missing", e.Name, name)
			continue
		}
		ti := f.Tensors[i]
		wantType := gguf.TypeF16
		if len(e.Shape) == 1 || strings.HasSuffix(name, "_norm.weight") || strings.HasSuffix(name, ".bias") {
			wantType = gguf.TypeF32
		}
		if ti.Type != wantType {
			t.Errorf("%s: type %s, want %s", name, ti.Type, wantType)
		}
		src := make([]float32, e.NumElements())
		decodeF32(src, c.Data(e), e.DType)
		got := f32Of(ti, f.TensorData(i))
		rows := e.Shape[0]
		cols := e.NumElements() / rows
		heads := 0
		if a.permuteQK() {
			if strings.Contains(e.Name, "q_proj") {
				heads = s.heads
			} else if strings.Contains(e.Name, "k_proj") {
				heads = s.kv
			}
		}
		for r := int64(0); r < rows; r++ {
			srcRow := r
			if heads > 0 { // GGUF row h*D + 2j + s is HF row h*D + s*D/2 + j
				d := rows / int64(heads)
				h, rem := r/d, r%d
				srcRow = h*d + (rem%2)*(d/2) + rem/2
			}
			for k := int64(0); k < cols; k++ {
				want := src[srcRow*cols+k]
				if wantType == gguf.TypeF16 {
					want = float32(float16Round(want))
				}
				if got[r*cols+k] != want {
					t.Fatalf("%s: element [%d,%d] = %v, want %v", name, r, k, got[r*cols+k], want)
				}
			}
		}
	}
}

// float16Round rounds to the nearest binary16 value (ties to even) in float64 arithmetic, an
// independent check of the F16 narrowing used by the converter (values here are normal numbers).
func float16Round(x float32) float64 {
	if x == 0 {
		return 0
	}
	v := float64(x)
	exp := math.Floor(math.Log2(math.Abs(v)))
	if exp < -14 {
		exp = -14
	}
	ulp := math.Pow(2, exp-10)
	return math.RoundToEven(v/ulp) * ulp
}

// TestSyntheticRoundTrip exports synthetic conversions back to Hugging Face folders and converts
// them again: the GGUF files must be identical (llama3 RoPE parameters are recovered from the
// rope_freqs tensor; BPE tokenizers are rebuilt from the known pre-tokenizer).
func TestSyntheticRoundTrip(t *testing.T) {
	base := synth{hidden: 64, layers: 2, heads: 4, kv: 2, ffn: 96, vocab: 320, dtype: safetensors.BF16}
	cases := map[string]synth{}
	s := base
	s.arch, s.modelType, s.tied, s.tokenizer = "LlamaForCausalLM", "llama", true, "bpe-llama3"
	s.config = map[string]any{"rope_theta": 500000.0, "rope_scaling": map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0, "high_freq_factor": 4.0, "original_max_position_embeddings": 64}}
	cases["llama3"] = s
	s = base
	s.arch, s.modelType, s.biases, s.tokenizer = "Qwen2ForCausalLM", "qwen2", true, "bpe-qwen2"
	cases["qwen2"] = s
	s = base
	s.arch, s.modelType, s.qkNorm, s.headDim, s.tokenizer = "Qwen3ForCausalLM", "qwen3", true, 32, "bpe-qwen2"
	cases["qwen3"] = s
	s = base
	s.arch, s.modelType, s.tokenizer = "LlamaForCausalLM", "llama", "spm"
	s.tokenizerConfig = map[string]any{"add_prefix_space": true, "chat_template": "{{ messages }}"}
	cases["llama-spm"] = s
	for name, s := range cases {
		for _, ot := range []OutType{OutF16, OutBF16, OutF32} {
			t.Run(fmt.Sprintf("%s %s", name, ot), func(t *testing.T) {
				f, _ := convertSynth(t, s, "tiny-"+name, Options{OutType: ot})
				first := f.Path
				dir := filepath.Join(t.TempDir(), "exported")
				res, err := ToHF(context.Background(), first, dir, HFOptions{})
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
				sameFile(t, out, first)
			})
		}
	}
}
