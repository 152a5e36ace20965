package quantize

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestMixRulesIQ checks the per-tensor types of the codebook and ternary mixes on a 32-layer
// llama shape against llama-quant.cpp's rules (llama_tensor_get_type_impl), with and without
// grouped-query attention.
func TestMixRulesIQ(t *testing.T) {
	gqa4 := llamaShape{layers: 32, hidden: 4096, heads: 32, kvHeads: 8, ffn: 11008, vocab: 32000}
	gqa1 := llamaShape{layers: 32, hidden: 4096, heads: 32, kvHeads: 32, ffn: 11008, vocab: 32000}
	type want func(layer int, tensor string) gguf.TensorType
	// lowBit is the rule of the IQ1/IQ2 mixes: attn_v, the first eighth of ffn_down and
	// attn_output get larger types.
	lowBit := func(def, attnV, down, attnOut gguf.TensorType) want {
		return func(l int, n string) gguf.TensorType {
			switch {
			case n == "attn_v":
				return attnV
			case n == "ffn_down" && l < 4:
				return down
			case n == "attn_output":
				return attnOut
			}
			return def
		}
	}
	tests := []struct {
		mix     string
		shape   llamaShape
		imatrix bool
		output  gguf.TensorType
		embd    gguf.TensorType
		layer   want
	}{
		{"IQ2_XXS", gqa4, true, gguf.TypeQ5_K, gguf.TypeQ2_K, lowBit(gguf.TypeIQ2_XXS, gguf.TypeQ4_K, gguf.TypeQ2_K, gguf.TypeIQ2_XXS)},
		{"IQ2_XXS", gqa1, true, gguf.TypeQ5_K, gguf.TypeQ2_K, lowBit(gguf.TypeIQ2_XXS, gguf.TypeQ2_K, gguf.TypeQ2_K, gguf.TypeIQ2_XXS)},
		{"IQ2_XS", gqa4, true, gguf.TypeQ5_K, gguf.TypeQ2_K, lowBit(gguf.TypeIQ2_XS, gguf.TypeQ4_K, gguf.TypeQ2_K, gguf.TypeIQ2_XS)},
		{"IQ2_S", gqa4, true, gguf.TypeQ5_K, gguf.TypeIQ3_S, lowBit(gguf.TypeIQ2_XS, gguf.TypeQ4_K, gguf.TypeIQ3_S, gguf.TypeIQ3_S)},
		{"IQ2_M", gqa4, true, gguf.TypeQ5_K, gguf.TypeIQ3_S, lowBit(gguf.TypeIQ2_S, gguf.TypeQ4_K, gguf.TypeIQ3_S, gguf.TypeIQ3_S)},
		{"IQ2_M", gqa1, true, gguf.TypeQ5_K, gguf.TypeIQ3_S, lowBit(gguf.TypeIQ2_S, gguf.TypeIQ3_S, gguf.TypeIQ3_S, gguf.TypeIQ3_S)},
		{"IQ1_S", gqa4, true, gguf.TypeQ5_K, gguf.TypeQ2_K, lowBit(gguf.TypeIQ1_S, gguf.TypeQ4_K, gguf.TypeQ2_K, gguf.TypeIQ2_XXS)},
		{"IQ1_M", gqa1, true, gguf.TypeQ5_K, gguf.TypeQ2_K, lowBit(gguf.TypeIQ1_M, gguf.TypeQ2_K, gguf.TypeQ2_K, gguf.TypeIQ2_XXS)},
		{"IQ3_XXS", gqa4, true, gguf.TypeQ5_K, gguf.TypeIQ3_S, func(l int, n string) gguf.TensorType {
			switch n {
			case "attn_q", "attn_k":
				return gguf.TypeIQ2_S
			case "attn_v":
				return gguf.TypeQ4_K
			case "attn_output":
				return gguf.TypeIQ3_S
			}
			return gguf.TypeIQ3_XXS
		}},
		{"IQ3_XXS", gqa1, true, gguf.TypeQ5_K, gguf.TypeIQ3_S, func(l int, n string) gguf.TensorType {
			switch n {
			case "attn_q", "attn_k":
				return gguf.TypeIQ2_S
			case "attn_output":
				return gguf.TypeIQ3_S
			}
			return gguf.TypeIQ3_XXS
		}},
		{"IQ3_S", gqa4, false, gguf.TypeQ6_K, gguf.TypeIQ3_S, func(l int, n string) gguf.TensorType {
			if n == "attn_v" {
				return gguf.TypeQ4_K
			}
			return gguf.TypeIQ3_S
		}},
		{"IQ3_S", gqa1, false, gguf.TypeQ6_K, gguf.TypeIQ3_S, func(int, string) gguf.TensorType { return gguf.TypeIQ3_S }},
		{"IQ3_M", gqa1, false, gguf.TypeQ6_K, gguf.TypeIQ3_S, func(l int, n string) gguf.TensorType {
			if n == "attn_v" || n == "attn_output" || n == "ffn_down" && l < 4 {
				return gguf.TypeQ4_K
			}
			return gguf.TypeIQ3_S
		}},
		{"IQ3_XS", gqa4, true, gguf.TypeQ6_K, gguf.TypeIQ3_S, func(l int, n string) gguf.TensorType {
			switch {
			case n == "attn_q", n == "attn_k":
				return gguf.TypeIQ3_XXS
			case n == "attn_v":
				return gguf.TypeQ4_K
			case (n == "ffn_gate" || n == "ffn_up") && l >= 4 && l < 28:
				return gguf.TypeIQ3_XXS
			}
			return gguf.TypeIQ3_S
		}},
		{"TQ1_0", gqa4, false, gguf.TypeQ6_K, gguf.TypeQ4_K, func(int, string) gguf.TensorType { return gguf.TypeTQ1_0 }},
		{"TQ2_0", gqa1, false, gguf.TypeQ6_K, gguf.TypeQ4_K, func(int, string) gguf.TensorType { return gguf.TypeTQ2_0 }},
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
			for l := 0; l < tc.shape.layers; l++ {
				for _, n := range []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"} {
					check(fmt.Sprintf("blk.%d.%s.weight", l, n), tc.layer(l, n))
				}
			}
		})
	}
}

// TestIQMixesNeedImatrix checks llama-quantize's refusals: the mixes whose tensors become IQ1,
// IQ2 or IQ3_XXS need an importance matrix, and one missing a tensor's entry is refused too.
func TestIQMixesNeedImatrix(t *testing.T) {
	s := llamaShape{layers: 4, hidden: 256, heads: 4, kvHeads: 4, ffn: 512, vocab: 512}
	for _, tc := range []struct {
		mix  string
		need bool
	}{
		{"IQ2_XXS", true}, {"IQ2_XS", true}, {"IQ2_S", true}, {"IQ2_M", true}, {"IQ1_S", true},
		{"IQ1_M", true}, {"IQ3_XXS", true}, {"IQ3_XS", true}, // IQ3_XS puts IQ3_XXS on attn_q
		{"IQ3_S", false}, {"IQ3_M", false}, {"TQ1_0", false}, {"TQ2_0", false},
	} {
		src := &memSource{md: llamaMetadata(s), infos: llamaTensors(s)}
		_, err := MakePlan(src, Options{Mix: mustMix(t, tc.mix)})
		switch {
		case tc.need && (!errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "requires an importance matrix")):
			t.Errorf("%s without an imatrix: %v, want llama-quantize's refusal", tc.mix, err)
		case !tc.need && err != nil:
			t.Errorf("%s without an imatrix: %v", tc.mix, err)
		}
	}
	im := fullImatrix(llamaTensors(s))
	delete(im.Entries, "blk.2.ffn_up.weight")
	src := &memSource{md: llamaMetadata(s), infos: llamaTensors(s)}
	_, err := MakePlan(src, Options{Mix: mustMix(t, "IQ2_XS"), Imatrix: im})
	if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), `missing importance matrix for tensor "blk.2.ffn_up.weight"`) {
		t.Errorf("imatrix without blk.2.ffn_up: %v", err)
	}
}

// TestIQFallbacks checks that rows not filling a 256-weight block fall back as llama-quantize
// does: the codebook types to IQ4_NL, the ternary ones to Q4_0.
func TestIQFallbacks(t *testing.T) {
	s := llamaShape{layers: 2, hidden: 96, heads: 2, kvHeads: 2, ffn: 160, vocab: 64}
	for _, tc := range []struct {
		mix  string
		want gguf.TensorType
	}{{"IQ3_S", gguf.TypeIQ4_NL}, {"IQ2_XS", gguf.TypeIQ4_NL}, {"TQ2_0", gguf.TypeQ4_0}} {
		opts := Options{Mix: mustMix(t, tc.mix), Imatrix: fullImatrix(llamaTensors(s))}
		got := planTypes(t, s, opts)
		if g := got["blk.0.ffn_up.weight"]; g != tc.want {
			t.Errorf("%s: 96-column ffn_up is %s, want %s", tc.mix, g, tc.want)
		}
	}
}

func TestMixForBitsImatrix(t *testing.T) {
	for bits, want := range map[int]string{2: "IQ2_M", 3: "IQ3_M", 4: "Q4_K_M", 8: "Q8_0"} {
		if m, err := MixForBitsImatrix(bits); err != nil || m.Name != want {
			t.Errorf("MixForBitsImatrix(%d) = %s, %v; want %s", bits, m.Name, err, want)
		}
	}
	if _, err := MixForBitsImatrix(1); err == nil {
		t.Error("MixForBitsImatrix(1): no error")
	}
}
