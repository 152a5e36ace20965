package convert

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// fixture returns the shakespeare-llama fixture folder.
func fixture(t testing.TB) string {
	return filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama")
}

// synth describes a tiny synthetic checkpoint.
type synth struct {
	arch, modelType                       string
	hidden, layers, heads, kv, ffn, vocab int
	headDim                               int // written to config.json when > 0
	tied, biases, qkNorm                  bool
	dtype                                 safetensors.DType
	tokenizer                             string // spm, llamahf, bpe-llama3, bpe-qwen2, bpe-smollm, none
	config                                map[string]any
	tokenizerConfig                       map[string]any
	maxShard                              int64
}

func (s synth) hd() int {
	if s.headDim > 0 {
		return s.headDim
	}
	return s.hidden / s.heads
}

// hfTensors lists the checkpoint's tensors (name, shape) in sorted order.
func (s synth) hfTensors() []safetensors.TensorInfo {
	var out []safetensors.TensorInfo
	add := func(name string, shape ...int64) {
		out = append(out, safetensors.TensorInfo{Name: name, DType: s.dtype, Shape: shape})
	}
	h, q, kvd, f, v := int64(s.hidden), int64(s.heads*s.hd()), int64(s.kv*s.hd()), int64(s.ffn), int64(s.vocab)
	add("model.embed_tokens.weight", v, h)
	add("model.norm.weight", h)
	if !s.tied {
		add("lm_head.weight", v, h)
	}
	for l := 0; l < s.layers; l++ {
		p := fmt.Sprintf("model.layers.%d.", l)
		add(p+"input_layernorm.weight", h)
		add(p+"post_attention_layernorm.weight", h)
		add(p+"self_attn.q_proj.weight", q, h)
		add(p+"self_attn.k_proj.weight", kvd, h)
		add(p+"self_attn.v_proj.weight", kvd, h)
		add(p+"self_attn.o_proj.weight", h, q)
		if s.biases {
			add(p+"self_attn.q_proj.bias", q)
			add(p+"self_attn.k_proj.bias", kvd)
			add(p+"self_attn.v_proj.bias", kvd)
		}
		if s.qkNorm {
			add(p+"self_attn.q_norm.weight", int64(s.hd()))
			add(p+"self_attn.k_norm.weight", int64(s.hd()))
		}
		add(p+"mlp.gate_proj.weight", f, h)
		add(p+"mlp.up_proj.weight", f, h)
		add(p+"mlp.down_proj.weight", h, f)
	}
	sort.Slice(out, func(a, b int) bool { return out[a].Name < out[b].Name })
	return out
}

// values returns the float32 values of a synthetic tensor: deterministic, seeded by the name.
func synthValues(name string, n int64) []float32 {
	var seed uint64
	for _, c := range name {
		seed = seed*131 + uint64(c)
	}
	r := rand.New(rand.NewPCG(seed, 7))
	out := make([]float32, n)
	for i := range out {
		out[i] = float32(r.NormFloat64() * 0.05)
	}
	return out
}

// encodeValues stores float32 values in a safetensors dtype.
func encodeValues(vals []float32, d safetensors.DType) []byte {
	switch d {
	case safetensors.F32:
		b := make([]byte, 4*len(vals))
		dtype.EncodeF32(b, vals)
		return b
	case safetensors.F16:
		b := make([]byte, 2*len(vals))
		dtype.EncodeF16(b, vals)
		return b
	case safetensors.BF16:
		b := make([]byte, 2*len(vals))
		dtype.EncodeBF16(b, vals)
		return b
	}
	panic("encodeValues: " + string(d))
}

func writeJSON(t testing.TB, path string, v any) {
	t.Helper()
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// write creates the checkpoint folder.
func (s synth) write(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := map[string]any{
		"architectures": []string{s.arch}, "model_type": s.modelType,
		"vocab_size": s.vocab, "hidden_size": s.hidden, "intermediate_size": s.ffn,
		"num_hidden_layers": s.layers, "num_attention_heads": s.heads, "num_key_value_heads": s.kv,
		"max_position_embeddings": 1024, "rms_norm_eps": 1e-6, "rope_theta": 10000.0,
		"tie_word_embeddings": s.tied, "torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2,
	}
	if s.headDim > 0 {
		cfg["head_dim"] = s.headDim
	}
	for k, v := range s.config {
		if v == nil {
			delete(cfg, k)
		} else {
			cfg[k] = v
		}
	}
	writeJSON(t, filepath.Join(dir, "config.json"), cfg)
	infos := s.hfTensors()
	_, err := safetensors.WriteSharded(dir, map[string]string{"format": "pt"}, infos, s.maxShard, func(w *safetensors.ShardedWriter) error {
		for _, ti := range infos {
			n := int64(1)
			for _, d := range ti.Shape {
				n *= d
			}
			if err := w.WriteTensor(ti.Name, encodeValues(synthValues(ti.Name, n), ti.DType)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	tc := map[string]any{}
	switch s.tokenizer {
	case "spm":
		writeSPM(t, dir, s.vocab-4)
		tc = map[string]any{"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>", "tokenizer_class": "LlamaTokenizer"}
	case "llamahf":
		writeLlamaHFTokenizer(t, dir, s.vocab-4)
		tc = map[string]any{"add_bos_token": true, "add_eos_token": false, "bos_token": "<s>", "eos_token": "</s>", "unk_token": "<unk>"}
	case "bpe-llama3", "bpe-qwen2", "bpe-smollm":
		writeBPETokenizer(t, dir, s.tokenizer, s.vocab-8)
		if s.tokenizer == "bpe-qwen2" {
			tc = map[string]any{"bos_token": nil, "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>",
				"chat_template": "{% for m in messages %}<|im_start|>{{ m.role }}\n{{ m.content }}<|im_end|>\n{% endfor %}"}
		} else {
			tc = map[string]any{"bos_token": "<|begin_of_text|>", "eos_token": "<|endoftext|>"}
		}
	}
	for k, v := range s.tokenizerConfig {
		tc[k] = v
	}
	if s.tokenizer != "none" {
		writeJSON(t, filepath.Join(dir, "tokenizer_config.json"), tc)
	}
}

// writeSPM writes a SentencePiece model with n pieces: <unk>, <s>, </s>, the 256 byte pieces,
// then "▁a"... normal pieces with descending scores.
func writeSPM(t testing.TB, dir string, n int) *SPMModel {
	m := spmSample(n)
	if err := os.WriteFile(filepath.Join(dir, "tokenizer.model"), m.Marshal(), 0o644); err != nil {
		t.Fatal(err)
	}
	return m
}

func spmSample(n int) *SPMModel {
	m := &SPMModel{ModelType: 2, VocabSize: int32(n), ByteFallback: true, UnkID: 0, BOSID: 1, EOSID: 2, PadID: -1,
		UnkPiece: "<unk>", BOSPiece: "<s>", EOSPiece: "</s>", PadPiece: "<pad>", NormalizerName: "identity",
		AddDummyPrefix: true, EscapeWhitespaces: true}
	m.Pieces = append(m.Pieces, SPMPiece{"<unk>", 0, TokenUnknown}, SPMPiece{"<s>", 0, TokenControl}, SPMPiece{"</s>", 0, TokenControl})
	for b := 0; b < 256; b++ {
		m.Pieces = append(m.Pieces, SPMPiece{fmt.Sprintf("<0x%02X>", b), 0, TokenByte})
	}
	for i := 0; len(m.Pieces) < n; i++ {
		m.Pieces = append(m.Pieces, SPMPiece{fmt.Sprintf("\u2581w%d", i), float32(-i), TokenNormal})
	}
	return m
}

// byteChars is GPT-2's bytes_to_unicode table: the printable character standing for each byte.
func byteChars() []string {
	var bs []int
	for b := '!'; b <= '~'; b++ {
		bs = append(bs, int(b))
	}
	for b := 0xA1; b <= 0xAC; b++ {
		bs = append(bs, b)
	}
	for b := 0xAE; b <= 0xFF; b++ {
		bs = append(bs, b)
	}
	cs := append([]int(nil), bs...)
	extra := 0
	for b := 0; b < 256; b++ {
		found := false
		for _, x := range bs {
			if x == b {
				found = true
				break
			}
		}
		if !found {
			bs = append(bs, b)
			cs = append(cs, 256+extra)
			extra++
		}
	}
	out := make([]string, 256)
	for i, b := range bs {
		out[b] = string(rune(cs[i]))
	}
	return out
}

// writeBPETokenizer writes a byte-level BPE tokenizer.json with the 256 byte tokens, base
// merges up to n tokens, and added tokens after them.
func writeBPETokenizer(t testing.TB, dir, kind string, n int) {
	chars := byteChars()
	vocab := map[string]int{}
	for i, c := range chars {
		vocab[c] = i
	}
	var merges []any
	for i := 0; len(vocab) < n; i++ {
		a, b := chars['a'+i%26], chars['b'+(i/26)%24]
		if i%3 == 0 {
			a = "\u0120" + a // Ġ: a leading space
		}
		tok := a + b
		if _, ok := vocab[tok]; ok {
			continue
		}
		vocab[tok] = len(vocab)
		if kind == "bpe-qwen2" {
			merges = append(merges, []any{a, b}) // the newer pair format
		} else {
			merges = append(merges, a+" "+b)
		}
	}
	base := len(vocab)
	var added []any
	var addedNames []string
	switch kind {
	case "bpe-qwen2":
		addedNames = []string{"<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>"}
	default:
		addedNames = []string{"<|begin_of_text|>", "<|endoftext|>", "<|reserved_0|>", "my token"}
	}
	for i, a := range addedNames {
		special := !(a == "my token" || a == "<tool_call>")
		added = append(added, map[string]any{"id": base + i, "content": a, "single_word": false, "lstrip": false, "rstrip": false, "normalized": !special, "special": special})
	}
	var pre, post any
	bl := func(useRegex bool) map[string]any {
		return map[string]any{"type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": useRegex}
	}
	switch kind {
	case "bpe-llama3":
		pre = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": regexLlama3}, "behavior": "Isolated", "invert": false}, bl(false)}}
		post = map[string]any{"type": "Sequence", "processors": []any{bl(true), map[string]any{
			"type":   "TemplateProcessing",
			"single": []any{map[string]any{"SpecialToken": map[string]any{"id": "<|begin_of_text|>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}}},
			"pair": []any{map[string]any{"SpecialToken": map[string]any{"id": "<|begin_of_text|>", "type_id": 0}}, map[string]any{"Sequence": map[string]any{"id": "A", "type_id": 0}},
				map[string]any{"SpecialToken": map[string]any{"id": "<|begin_of_text|>", "type_id": 1}}, map[string]any{"Sequence": map[string]any{"id": "B", "type_id": 1}}},
		}}}
	case "bpe-qwen2":
		pre = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Split", "pattern": map[string]any{"Regex": regexQwen2}, "behavior": "Isolated", "invert": false}, bl(false)}}
		post = bl(false)
	case "bpe-smollm":
		pre = map[string]any{"type": "Sequence", "pretokenizers": []any{
			map[string]any{"type": "Digits", "individual_digits": true}, bl(true)}}
		post = bl(false)
	}
	tj := map[string]any{
		"version": "1.0", "added_tokens": added, "normalizer": nil, "pre_tokenizer": pre, "post_processor": post,
		"decoder": bl(true),
		"model":   map[string]any{"type": "BPE", "dropout": nil, "unk_token": nil, "byte_fallback": false, "ignore_merges": kind == "bpe-llama3", "vocab": vocab, "merges": merges},
	}
	writeJSON(t, filepath.Join(dir, "tokenizer.json"), tj)
}

// writeLlamaHFTokenizer writes a SentencePiece-style BPE tokenizer.json (byte fallback, no
// tokenizer.model), as TinyLlama-like repositories ship.
func writeLlamaHFTokenizer(t testing.TB, dir string, n int) {
	m := spmSample(n)
	vocab := map[string]int{}
	for i, p := range m.Pieces {
		vocab[p.Piece] = i
	}
	added := []any{
		map[string]any{"id": 0, "content": "<unk>", "special": true, "normalized": false},
		map[string]any{"id": 1, "content": "<s>", "special": true, "normalized": false},
		map[string]any{"id": 2, "content": "</s>", "special": true, "normalized": false},
		map[string]any{"id": n, "content": "<|user|>", "special": false, "normalized": false},
	}
	tj := map[string]any{
		"version": "1.0", "added_tokens": added, "pre_tokenizer": nil,
		"decoder": map[string]any{"type": "Sequence", "decoders": []any{}},
		"model":   map[string]any{"type": "BPE", "byte_fallback": true, "fuse_unk": true, "unk_token": "<unk>", "vocab": vocab, "merges": []any{}},
	}
	writeJSON(t, filepath.Join(dir, "tokenizer.json"), tj)
}

// keysOf lists the metadata keys in order.
func keysOf(md gguf.Metadata) []string {
	out := make([]string, len(md))
	for i, kv := range md {
		out[i] = kv.Key
	}
	return out
}

// typeOf returns the GGUF value type name of a key ("uint32", "array<string>").
func typeOf(md gguf.Metadata, key string) string {
	v, ok := md.Lookup(key)
	if !ok {
		return "missing"
	}
	if a, ok := v.(gguf.Array); ok {
		return "array<" + a.Type.String() + ">"
	}
	vt, _ := gguf.TypeOf(v)
	return vt.String()
}

// f32Of reads GGUF tensor data of type F32/F16/BF16 as float32.
func f32Of(t gguf.TensorInfo, data []byte) []float32 {
	out := make([]float32, t.NumElements())
	switch t.Type {
	case gguf.TypeF32:
		dtype.DecodeF32(out, data)
	case gguf.TypeF16:
		dtype.DecodeF16(out, data)
	case gguf.TypeBF16:
		dtype.DecodeBF16(out, data)
	default:
		for i := range out {
			out[i] = float32(math.NaN())
		}
	}
	return out
}
