package runtime

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// hfName is the Hugging Face name of a GGUF-style tensor name of s (before Phi-3's fusing).
func (s famSpec) hfName(name string) string {
	stem, suffix := strings.TrimSuffix(name, ".weight"), ".weight"
	switch stem {
	case "token_embd":
		return "model.embed_tokens" + suffix
	case "output_norm":
		return "model.norm" + suffix
	case "output":
		return "lm_head" + suffix
	}
	var l int
	var rest string
	fmt.Sscanf(stem, "blk.%d.", &l)
	rest = stem[strings.Index(stem[4:], ".")+5:]
	m := map[string]string{
		"attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
		"attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_gate": "mlp.gate_proj",
		"ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj", "attn_q_norm": "self_attn.q_norm",
		"attn_k_norm": "self_attn.k_norm", "post_attention_norm": "post_attention_layernorm",
		"post_ffw_norm": "post_feedforward_layernorm", "ffn_norm": "pre_feedforward_layernorm",
	}
	if s.arch == "phi3" {
		m["ffn_norm"] = "post_attention_layernorm"
	}
	return fmt.Sprintf("model.layers.%d.%s%s", l, m[rest], suffix)
}

// writeHF writes hf as a Hugging Face checkpoint folder of s (F32 safetensors, config.json, a
// SentencePiece tokenizer.model); extra tensors (such as a Gemma 2 lm_head) are added as given.
func (s famSpec) writeHF(t *testing.T, dir string, hf map[string]Tensor, extra map[string]Tensor) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	data := map[string][]float32{}
	shape := map[string][]int64{}
	add := func(name string, dims []int, d []float32) {
		var sh []int64
		for i := len(dims) - 1; i >= 0; i-- {
			sh = append(sh, int64(dims[i]))
		}
		data[name], shape[name] = d, sh
	}
	for name, tt := range hf {
		add(s.hfName(name), tt.Dims, tt.Data)
	}
	for name, tt := range extra {
		add(name, tt.Dims, tt.Data)
	}
	if s.arch == "phi3" {
		fuse := func(dst string, parts ...string) {
			var d []float32
			var rows int64
			for _, p := range parts {
				d = append(d, data[p]...)
				rows += shape[p][0]
				delete(data, p)
				delete(shape, p)
			}
			data[dst], shape[dst] = d, []int64{rows, int64(s.hidden)}
		}
		for l := range s.layers {
			p := fmt.Sprintf("model.layers.%d.", l)
			fuse(p+"self_attn.qkv_proj.weight", p+"self_attn.q_proj.weight", p+"self_attn.k_proj.weight", p+"self_attn.v_proj.weight")
			fuse(p+"mlp.gate_up_proj.weight", p+"mlp.gate_proj.weight", p+"mlp.up_proj.weight")
		}
	}
	var infos []safetensors.TensorInfo
	for name := range data {
		infos = append(infos, safetensors.TensorInfo{Name: name, DType: safetensors.F32, Shape: shape[name]})
	}
	sort.Slice(infos, func(a, b int) bool { return infos[a].Name < infos[b].Name })
	err := safetensors.WriteFile(filepath.Join(dir, "model.safetensors"), map[string]string{"format": "pt"}, infos, func(w *safetensors.Writer) error {
		for _, ti := range infos {
			b := make([]byte, 4*len(data[ti.Name]))
			dtype.EncodeF32(b, data[ti.Name])
			if err := w.WriteTensor(ti.Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"vocab_size": s.vocab, "hidden_size": s.hidden, "intermediate_size": s.ffn,
		"num_hidden_layers": s.layers, "num_attention_heads": s.heads, "num_key_value_heads": s.kv,
		"rms_norm_eps": 1e-6, "rope_theta": s.theta, "tie_word_embeddings": s.tied,
		"bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32",
	}
	switch s.arch {
	case "gemma2":
		cfg["architectures"], cfg["model_type"] = []string{"Gemma2ForCausalLM"}, "gemma2"
		cfg["head_dim"], cfg["query_pre_attn_scalar"] = s.hd, s.hd
		cfg["max_position_embeddings"] = 64
		cfg["attn_logit_softcapping"], cfg["final_logit_softcapping"] = s.attnCap, s.finalCap
		cfg["sliding_window"], cfg["hidden_activation"] = s.window, "gelu_pytorch_tanh"
	case "gemma3":
		cfg["architectures"], cfg["model_type"] = []string{"Gemma3ForCausalLM"}, "gemma3_text"
		cfg["head_dim"], cfg["query_pre_attn_scalar"] = s.hd, s.hd
		cfg["max_position_embeddings"] = 64
		cfg["attn_logit_softcapping"], cfg["final_logit_softcapping"] = nil, nil
		cfg["sliding_window"], cfg["sliding_window_pattern"] = s.window, s.pattern
		cfg["rope_local_base_freq"] = s.thetaLocal
		cfg["rope_scaling"] = map[string]any{"rope_type": "linear", "factor": s.linear}
	case "phi3":
		cfg["architectures"], cfg["model_type"] = []string{"Phi3ForCausalLM"}, "phi3"
		cfg["max_position_embeddings"], cfg["original_max_position_embeddings"] = s.maxPos, s.origPos
		cfg["partial_rotary_factor"] = float64(s.ropeDim) / float64(s.hd)
		cfg["sliding_window"] = nil
		cfg["rope_scaling"] = map[string]any{"type": "longrope", "short_factor": s.shortFactor, "long_factor": s.longFactor}
	}
	b, err := json.Marshal(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
	spm := &convert.SPMModel{ModelType: 1, UnkID: 0, BOSID: 1, EOSID: 2, PadID: -1,
		Pieces: []convert.SPMPiece{{Piece: "<unk>", Type: convert.TokenUnknown}, {Piece: "<s>", Type: convert.TokenControl}, {Piece: "</s>", Type: convert.TokenControl}}}
	for i := len(spm.Pieces); i < s.vocab; i++ {
		spm.Pieces = append(spm.Pieces, convert.SPMPiece{Piece: fmt.Sprintf("\u2581t%d", i), Score: -float32(i), Type: convert.TokenNormal})
	}
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), spm.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestFamiliesConvertedAgainstReference goes the whole way: a Hugging Face checkpoint of each
// family is converted to GGUF by convert.Convert, loaded, and its logits compared with the
// transformers-style reference on the checkpoint's own weights. This checks the converter's
// transformations (Gemma's norm + 1 and dropped lm_head, Phi-3's fused tensors, LongRoPE
// factors and attention factor, partial rotary, the keys written) against the runtime's reading
// of them.
func TestFamiliesConvertedAgainstReference(t *testing.T) {
	withExactGELU(t)
	for _, spec := range famSpecs {
		t.Run(spec.arch, func(t *testing.T) {
			hf := spec.hfWeights(23)
			var extra map[string]Tensor
			if spec.arch == "gemma2" {
				// A stray lm_head, which llama.cpp drops (Gemma 2 always ties its output).
				extra = map[string]Tensor{"lm_head.weight": spec.hfWeights(99)["token_embd.weight"]}
			}
			dir := filepath.Join(t.TempDir(), spec.arch)
			spec.writeHF(t, dir, hf, extra)
			out := filepath.Join(t.TempDir(), spec.arch+".gguf")
			if _, err := convert.Convert(context.Background(), dir, out, convert.Options{OutType: convert.OutF32}); err != nil {
				t.Fatal(err)
			}
			m, err := Load(out, Options{Threads: 2})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			want := spec.config()
			got := m.Config()
			if got.RopeDim != want.RopeDim || got.SlidingWindow != want.SlidingWindow || got.SWAPattern != want.SWAPattern ||
				got.RopeThetaSWA != want.RopeThetaSWA || got.EmbedScale != want.EmbedScale || got.TiedEmbeddings != want.TiedEmbeddings ||
				got.RopeScaling.Type != want.RopeScaling.Type {
				t.Fatalf("config read back %+v\nwant %+v", got, want)
			}
			tokens := famTokens(spec, 15)
			ctxs := []int{32}
			if spec.arch == "phi3" {
				ctxs = []int{spec.origPos, 32}
			}
			for _, ctx := range ctxs {
				s, err := m.NewSession(ctx)
				if err != nil {
					t.Fatal(err)
				}
				logits, err := s.Forward(tokens, 0, true)
				if err != nil {
					t.Fatal(err)
				}
				ref := spec.hfForward(hf, tokens, spec.arch == "phi3" && ctx > spec.origPos)
				checkLogits(t, fmt.Sprintf("ctx %d", ctx), logits, ref, spec.vocab)
			}
		})
	}
}
