package quantize

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// planTypes returns the output type of every tensor for a model of shape s (no data needed).
func planTypes(t *testing.T, s llamaShape, opts Options) map[string]gguf.TensorType {
	t.Helper()
	src := &memSource{md: llamaMetadata(s), infos: llamaTensors(s)}
	p, err := MakePlan(src, opts)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]gguf.TensorType{}
	for _, tp := range p.Tensors {
		out[tp.Name] = tp.To
	}
	return out
}

func mustMix(t *testing.T, name string) Mix {
	t.Helper()
	m, err := ParseMix(name)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// moreBitsLayers32 are the layers llama.cpp's use_more_bits picks out of 32:
// i < 4, i >= 28, or (i-4)%3 == 2.
var moreBitsLayers32 = map[int]bool{0: true, 1: true, 2: true, 3: true, 6: true, 9: true, 12: true, 15: true,
	18: true, 21: true, 24: true, 27: true, 28: true, 29: true, 30: true, 31: true}

func TestMixRulesLlama32(t *testing.T) {
	gqa4 := llamaShape{layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffn: 11008, vocab: 32000}
	gqa1 := llamaShape{layers: 32, hidden: 4096, heads: 32, kvHeads: 32, ffn: 11008, vocab: 32000}
	type want func(layer int, tensor string) gguf.TensorType
	tests := []struct {
		mix     string
		shape   llamaShape
		imatrix bool
		output  gguf.TensorType
		embd    gguf.TensorType
		layer   want
	}{
		{"Q4_K_M", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ4_K, func(l int, n string) gguf.TensorType {
			if (n == "attn_v" || n == "ffn_down") && moreBitsLayers32[l] {
				return gguf.TypeQ6_K
			}
			return gguf.TypeQ4_K
		}},
		{"Q5_K_M", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ5_K, func(l int, n string) gguf.TensorType {
			if (n == "attn_v" || n == "ffn_down") && moreBitsLayers32[l] {
				return gguf.TypeQ6_K
			}
			return gguf.TypeQ5_K
		}},
		{"Q4_K_S", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ4_K, func(l int, n string) gguf.TensorType {
			if (n == "attn_v" || n == "ffn_down") && l < 4 {
				return gguf.TypeQ5_K
			}
			return gguf.TypeQ4_K
		}},
		{"Q3_K_M", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ3_K, func(l int, n string) gguf.TensorType {
			switch {
			case n == "attn_v" && l < 2, n == "ffn_down" && l < 2:
				return gguf.TypeQ5_K
			case n == "attn_v", n == "ffn_down", n == "attn_output":
				return gguf.TypeQ4_K
			}
			return gguf.TypeQ3_K
		}},
		{"Q3_K_L", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ3_K, func(l int, n string) gguf.TensorType {
			if n == "attn_v" || n == "ffn_down" || n == "attn_output" {
				return gguf.TypeQ5_K
			}
			return gguf.TypeQ3_K
		}},
		{"Q3_K_S", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ3_K, func(int, string) gguf.TensorType { return gguf.TypeQ3_K }},
		{"Q2_K", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ2_K, func(l int, n string) gguf.TensorType {
			switch n {
			case "attn_v":
				return gguf.TypeQ4_K // GQA >= 4
			case "ffn_down", "attn_output":
				return gguf.TypeQ3_K
			}
			return gguf.TypeQ2_K
		}},
		{"Q2_K", gqa1, false, gguf.TypeQ6_K, gguf.TypeQ2_K, func(l int, n string) gguf.TensorType {
			switch n {
			case "attn_v", "ffn_down", "attn_output":
				return gguf.TypeQ3_K
			}
			return gguf.TypeQ2_K
		}},
		{"Q2_K_S", gqa4, true, gguf.TypeQ6_K, gguf.TypeQ2_K, func(l int, n string) gguf.TensorType {
			if n == "attn_v" || n == "ffn_down" && l < 4 {
				return gguf.TypeQ4_K
			}
			return gguf.TypeQ2_K
		}},
		{"IQ4_XS", gqa4, false, gguf.TypeQ6_K, gguf.TypeIQ4_XS, func(l int, n string) gguf.TensorType {
			if n == "attn_v" || n == "ffn_down" && l < 4 {
				return gguf.TypeQ5_K
			}
			return gguf.TypeIQ4_XS
		}},
		{"IQ4_NL", gqa4, true, gguf.TypeQ6_K, gguf.TypeIQ4_NL, func(l int, n string) gguf.TensorType {
			if n == "attn_v" { // with an imatrix ffn_down keeps IQ4_NL
				return gguf.TypeQ5_K
			}
			return gguf.TypeIQ4_NL
		}},
		{"IQ4_NL", gqa1, false, gguf.TypeQ6_K, gguf.TypeIQ4_NL, func(l int, n string) gguf.TensorType {
			if n == "ffn_down" && l < 4 {
				return gguf.TypeQ5_K
			}
			return gguf.TypeIQ4_NL
		}},
		{"Q4_0", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ4_0, func(int, string) gguf.TensorType { return gguf.TypeQ4_0 }},
		{"Q4_0", gqa4, true, gguf.TypeQ6_K, gguf.TypeQ4_0, func(l int, n string) gguf.TensorType {
			if n == "ffn_down" && l < 4 {
				return gguf.TypeQ4_1
			}
			return gguf.TypeQ4_0
		}},
		{"Q5_0", gqa4, true, gguf.TypeQ6_K, gguf.TypeQ5_0, func(l int, n string) gguf.TensorType {
			if n == "ffn_down" && l < 4 {
				return gguf.TypeQ5_1
			}
			return gguf.TypeQ5_0
		}},
		{"Q6_K", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ6_K, func(int, string) gguf.TensorType { return gguf.TypeQ6_K }},
		{"Q8_0", gqa4, false, gguf.TypeQ8_0, gguf.TypeQ8_0, func(int, string) gguf.TensorType { return gguf.TypeQ8_0 }},
		{"F16", gqa4, false, gguf.TypeF16, gguf.TypeF16, func(int, string) gguf.TensorType { return gguf.TypeF16 }},
	}
	for _, tc := range tests {
		t.Run(fmt.Sprintf("%s/gqa%d/imatrix=%v", tc.mix, tc.shape.heads/tc.shape.kvHeads, tc.imatrix), func(t *testing.T) {
			opts := Options{Mix: mustMix(t, tc.mix)}
			if tc.imatrix {
				opts.Imatrix = fullImatrix(llamaTensors(tc.shape))
			}
			got := planTypes(t, tc.shape, opts)
			check := func(name string, want gguf.TensorType) {
				if got[name] != want {
					t.Errorf("%s: %s, want %s", name, got[name], want)
				}
			}
			check("output.weight", tc.output)
			check("token_embd.weight", tc.embd)
			check("output_norm.weight", gguf.TypeF32)
			for l := 0; l < tc.shape.layers; l++ {
				for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
					check(fmt.Sprintf("blk.%d.%s.weight", l, n), tc.layer(l, n))
				}
				check(fmt.Sprintf("blk.%d.attn_norm.weight", l), gguf.TypeF32)
			}
		})
	}
}

func TestMixOptions(t *testing.T) {
	s := llamaShape{layers: 4, hidden: 256, heads: 8, kvHeads: 4, ffn: 768, vocab: 2048}
	q8 := gguf.TypeQ8_0
	f16 := gguf.TypeF16
	rule, err := ParseTensorTypeRule("ATTN_[qk]=q5_0")
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts Options
		want map[string]gguf.TensorType
	}{
		{"pure", Options{Pure: true}, map[string]gguf.TensorType{
			"output.weight": gguf.TypeQ4_K, "blk.3.attn_v.weight": gguf.TypeQ4_K, "blk.3.ffn_down.weight": gguf.TypeQ4_K, "blk.0.attn_norm.weight": gguf.TypeF32}},
		{"output type", Options{OutputTensorType: &q8}, map[string]gguf.TensorType{
			"output.weight": gguf.TypeQ8_0, "token_embd.weight": gguf.TypeQ4_K}},
		{"embedding type", Options{TokenEmbeddingType: &f16}, map[string]gguf.TensorType{
			"output.weight": gguf.TypeQ6_K, "token_embd.weight": gguf.TypeF16}},
		{"leave output", Options{LeaveOutputTensor: true}, map[string]gguf.TensorType{
			"output.weight": gguf.TypeF32, "token_embd.weight": gguf.TypeQ4_K}},
		{"tensor type rule", Options{TensorTypes: []TensorTypeRule{rule}}, map[string]gguf.TensorType{
			"blk.0.attn_q.weight": gguf.TypeQ5_0, "blk.2.attn_k.weight": gguf.TypeQ5_0, "blk.2.attn_v.weight": gguf.TypeQ6_K, "blk.1.attn_output.weight": gguf.TypeQ4_K}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tc.opts.Mix = mustMix(t, "Q4_K_M")
			got := planTypes(t, s, tc.opts)
			for name, want := range tc.want {
				if got[name] != want {
					t.Errorf("%s: %s, want %s", name, got[name], want)
				}
			}
		})
	}
	// Tied embeddings: token_embd is treated as the output (Q6_K), or takes --output-tensor-type.
	tied := s
	tied.tied = true
	if got := planTypes(t, tied, Options{Mix: mustMix(t, "Q4_K_M")}); got["token_embd.weight"] != gguf.TypeQ6_K {
		t.Errorf("tied token_embd: %s, want Q6_K", got["token_embd.weight"])
	}
	if got := planTypes(t, tied, Options{Mix: mustMix(t, "Q4_K_M"), OutputTensorType: &q8}); got["token_embd.weight"] != gguf.TypeQ8_0 {
		t.Errorf("tied token_embd with --output-tensor-type q8_0: %s", got["token_embd.weight"])
	}
}

// TestFallbacks checks tensor_type_fallback: row lengths that the chosen block does not divide.
func TestFallbacks(t *testing.T) {
	tests := []struct {
		mix    string
		hidden int
		want   map[string]gguf.TensorType
	}{
		// 2880 = 90*32: K-quant rows fall back to 32-blocks; the output rule picks Q8_0 directly.
		{"Q4_K_M", 2880, map[string]gguf.TensorType{"blk.0.attn_q.weight": gguf.TypeQ5_0, "blk.0.attn_v.weight": gguf.TypeQ5_0,
			"blk.1.attn_v.weight": gguf.TypeQ8_0, "output.weight": gguf.TypeQ8_0}},
		{"Q5_K_S", 2880, map[string]gguf.TensorType{"blk.0.attn_q.weight": gguf.TypeQ5_1, "output.weight": gguf.TypeQ8_0}},
		{"Q3_K_S", 2880, map[string]gguf.TensorType{"blk.0.attn_q.weight": gguf.TypeQ4_0}},
		{"Q2_K", 2880, map[string]gguf.TensorType{"blk.0.attn_q.weight": gguf.TypeQ4_0}},
		{"IQ4_XS", 2880, map[string]gguf.TensorType{"blk.0.attn_q.weight": gguf.TypeIQ4_NL}},
		{"Q6_K", 2880, map[string]gguf.TensorType{"blk.0.attn_q.weight": gguf.TypeQ8_0}},
		// 1000 is not a multiple of 32: F16.
		{"Q4_K_M", 1000, map[string]gguf.TensorType{"blk.0.attn_q.weight": gguf.TypeF16}},
	}
	for _, tc := range tests {
		s := llamaShape{layers: 2, hidden: tc.hidden, heads: 8, kvHeads: 8, ffn: 4 * tc.hidden, vocab: 512}
		src := &memSource{md: llamaMetadata(s), infos: llamaTensors(s)}
		p, err := MakePlan(src, Options{Mix: mustMix(t, tc.mix)})
		if tc.hidden == 1000 && err != nil {
			// output.weight: Q8_0 cannot hold rows of 1000 and has no fallback, as in llama.cpp.
			if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "output.weight") {
				t.Errorf("%s/%d: %v", tc.mix, tc.hidden, err)
			}
			p, err = MakePlan(src, Options{Mix: mustMix(t, tc.mix), LeaveOutputTensor: true, TokenEmbeddingType: ptr(gguf.TypeF16)})
		}
		if err != nil {
			t.Fatalf("%s/%d: %v", tc.mix, tc.hidden, err)
		}
		got := map[string]gguf.TensorType{}
		for _, tp := range p.Tensors {
			got[tp.Name] = tp.To
		}
		for name, want := range tc.want {
			if got[name] != want {
				t.Errorf("%s/%d: %s is %s, want %s", tc.mix, tc.hidden, name, got[name], want)
			}
		}
		if len(p.Warnings) == 0 {
			t.Errorf("%s/%d: no fallback warnings", tc.mix, tc.hidden)
		}
	}
	// A 32-block mix on rows of 1000 has no fallback at all.
	s := llamaShape{layers: 1, hidden: 1000, heads: 8, kvHeads: 8, ffn: 4000, vocab: 512}
	if _, err := MakePlan(&memSource{md: llamaMetadata(s), infos: llamaTensors(s)}, Options{Mix: mustMix(t, "Q4_0")}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("Q4_0 on rows of 1000: %v", err)
	}
}

func ptr[T any](v T) *T { return &v }

// fullImatrix returns an importance matrix of ones for every 2-D tensor of infos.
func fullImatrix(infos []gguf.TensorInfo) *Imatrix {
	im := &Imatrix{Entries: map[string][]float32{}}
	for _, t := range infos {
		if len(t.Dims) >= 2 {
			v := make([]float32, t.Dims[0])
			for i := range v {
				v[i] = 1
			}
			im.Entries[t.Name] = v
		}
	}
	return im
}

func TestAllowsQuantization(t *testing.T) {
	tests := []struct {
		name  string
		dims  []uint64
		leave bool
		want  bool
	}{
		{"blk.0.attn_q.weight", []uint64{256, 256}, false, true},
		{"blk.0.attn_norm.weight", []uint64{256}, false, false},
		{"blk.0.attn_q.weight", []uint64{256, 1}, false, false}, // ggml_n_dims ignores trailing 1s
		{"blk.0.attn_q.bias", []uint64{256, 256}, false, false},
		{"output.weight", []uint64{256, 2048}, false, true},
		{"output.weight", []uint64{256, 2048}, true, false},
		{"blk.0.ffn_gate_inp.weight", []uint64{256, 8}, false, false},
		{"blk.0.ffn_down_exps.weight", []uint64{768, 256, 8}, false, true},
		{"position_embd.weight", []uint64{256, 512}, false, false},
		{"blk.0.ssm_conv1d.weight", []uint64{4, 256}, false, false},
		{"v.patch_embd.weight", []uint64{16, 16, 3, 256}, false, false},
		{"blk.0.attn_q_norm.weight", []uint64{128, 1}, false, false},
	}
	for _, tc := range tests {
		if got := AllowsQuantization(tc.name, tc.dims, tc.leave); got != tc.want {
			t.Errorf("AllowsQuantization(%s, %v, %v) = %v", tc.name, tc.dims, tc.leave, got)
		}
	}
}

func TestTensorOrder(t *testing.T) {
	names := []string{"blk.10.attn_q.weight", "output.weight", "blk.2.ffn_up.weight", "blk.2.attn_k.weight",
		"token_embd.weight", "blk.9.attn_v.weight", "output_norm.weight", "rope_freqs.weight"}
	want := []string{"output.weight", "output_norm.weight", "rope_freqs.weight", "token_embd.weight",
		"blk.2.attn_k.weight", "blk.2.ffn_up.weight", "blk.9.attn_v.weight", "blk.10.attn_q.weight"}
	var infos []gguf.TensorInfo
	for _, n := range names {
		infos = append(infos, gguf.TensorInfo{Name: n, Type: gguf.TypeF32, Dims: []uint64{256, 256}})
	}
	p, err := MakePlan(&memSource{md: llamaMetadata(llamaShape{layers: 11, heads: 8, kvHeads: 8}), infos: infos}, Options{Mix: mustMix(t, "Q8_0")})
	if err != nil {
		t.Fatal(err)
	}
	for i, tp := range p.Tensors {
		if tp.Name != want[i] {
			t.Fatalf("order %d: %s, want %s", i, tp.Name, want[i])
		}
		if infos[tp.Index].Name != tp.Name {
			t.Fatalf("index of %s points at %s", tp.Name, infos[tp.Index].Name)
		}
	}
}

func TestParseMix(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ft   FileType
	}{
		{"Q4_K_M", "Q4_K_M", 15}, {"q4_k", "Q4_K_M", 15}, {"Q3_K", "Q3_K_M", 12}, {"q5_k", "Q5_K_M", 17},
		{"15", "Q4_K_M", 15}, {"Q8_0", "Q8_0", 7}, {"iq4_xs", "IQ4_XS", 30}, {"IQ4_NL", "IQ4_NL", 25},
		{"Q2_K", "Q2_K", 10}, {"Q6_K", "Q6_K", 18}, {"f16", "F16", 1}, {"Q5_0", "Q5_0", 8},
	}
	for _, tc := range tests {
		m, err := ParseMix(tc.in)
		if err != nil || m.Name != tc.want || m.FileType != tc.ft {
			t.Errorf("ParseMix(%q) = %s %d, %v; want %s %d", tc.in, m.Name, m.FileType, err, tc.want, tc.ft)
		}
	}
	for _, bad := range []string{"", "Q9_K", "IQ4_K", "99"} {
		if _, err := ParseMix(bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ParseMix(%q): %v", bad, err)
		}
	}
	for bits, want := range map[int]string{2: "Q2_K", 3: "Q3_K_M", 4: "Q4_K_M", 5: "Q5_K_M", 6: "Q6_K", 7: "Q6_K", 8: "Q8_0"} {
		if m, err := MixForBits(bits); err != nil || m.Name != want {
			t.Errorf("MixForBits(%d) = %s, %v; want %s", bits, m.Name, err, want)
		}
	}
	for _, bad := range []int{0, 1, 9} {
		if _, err := MixForBits(bad); err == nil {
			t.Errorf("MixForBits(%d): no error", bad)
		}
	}
	for _, m := range Mixes() {
		if _, ok := Lookup(m.Default); !ok {
			t.Errorf("mix %s: no codec for its default type %s", m.Name, m.Default)
		}
	}
}

func TestParseTensorTypeRule(t *testing.T) {
	r, err := ParseTensorTypeRule(`blk\.[0-3]\.ATTN_V=Q8_0`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Type != gguf.TypeQ8_0 || !r.Pattern.MatchString("blk.2.attn_v.weight") || r.Pattern.MatchString("blk.4.attn_v.weight") {
		t.Errorf("rule %v %s matches wrongly", r.Pattern, r.Type)
	}
	for _, bad := range []string{"attn_v", "=q8_0", "attn_v=", "attn_v=q9_9", "attn_v=q8_1", "a[=q8_0"} {
		if _, err := ParseTensorTypeRule(bad); !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ParseTensorTypeRule(%q): %v", bad, err)
		}
	}
	_ = regexp.MustCompile
}

func TestLayerOf(t *testing.T) {
	tests := []struct {
		name string
		n    int
		ok   bool
	}{
		{"blk.0.attn_q.weight", 0, true}, {"blk.17.ffn_up.weight", 17, true}, {"blk.x.y", 0, false},
		{"output.weight", 0, false}, {"blk.-1.a", -1, true}, {"blk.12", 12, true},
	}
	for _, tc := range tests {
		n, ok := layerOf(tc.name)
		if n != tc.n || ok != tc.ok {
			t.Errorf("layerOf(%q) = %d, %v", tc.name, n, ok)
		}
	}
}

func TestModelInfo(t *testing.T) {
	md := llamaMetadata(llamaShape{layers: 80, heads: 64, kvHeads: 8, experts: 0})
	mi := ModelInfoFromMetadata(md)
	if mi.Layers != 80 || mi.Heads != 64 || mi.KVHeads != 8 || mi.GQA() != 8 || !mi.is70B() {
		t.Errorf("%+v", mi)
	}
	// 70B: attn_v Q3_K/Q4_K become Q5_K.
	got := planTypes(t, llamaShape{layers: 80, hidden: 8192, heads: 64, kvHeads: 8, ffn: 28672, vocab: 32000}, Options{Mix: mustMix(t, "Q4_K_S")})
	if got["blk.10.attn_v.weight"] != gguf.TypeQ5_K {
		t.Errorf("70B attn_v: %s", got["blk.10.attn_v.weight"])
	}
}
