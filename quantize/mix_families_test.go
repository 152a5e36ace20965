package quantize

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// familyPlan plans Q4_K_M for a model of GGUF architecture arch with tensors infos (dims only).
func familyPlan(t *testing.T, arch string, layers, heads, kv int, infos []gguf.TensorInfo) map[string]gguf.TensorType {
	t.Helper()
	md := gguf.Metadata{
		{Key: "general.architecture", Value: arch},
		{Key: "general.file_type", Value: uint32(0)},
		{Key: arch + ".block_count", Value: uint32(layers)},
		{Key: arch + ".attention.head_count", Value: uint32(heads)},
		{Key: arch + ".attention.head_count_kv", Value: uint32(kv)},
		{Key: "general.quantization_version", Value: uint32(2)},
	}
	p, err := MakePlan(&memSource{md: md, infos: infos}, Options{Mix: mustMix(t, "Q4_K_M")})
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]gguf.TensorType{}
	for _, tp := range p.Tensors {
		out[tp.Name] = tp.To
	}
	return out
}

// moreBits is llama.cpp's use_more_bits, written out for the expectations.
func moreBits(i, n int) bool { return i < n/8 || i >= 7*n/8 || (i-n/8)%3 == 2 }

// TestMixFamilies: llama-quantize has no rule specific to Gemma 2/3 or Phi-3 (src/llama-quant.cpp
// at 3f545be names only falcon, bailingmoe3 and the 70B llama), but their tensors exercise the
// generic ones differently: Phi-3's fused attn_qkv counts as attn_v (more bits on the
// use_more_bits layers), its fused ffn_up is an ordinary ffn_up, and the LongRoPE factors stay
// F32; Gemma's embedding is tied, so it takes the output's type (Q8_0 when its rows are not a
// multiple of 256, as in Gemma 3 1B's 1152), its rows of 1152 fall back from Q4_K to Q5_0, and
// the post-norms stay F32.
func TestMixFamilies(t *testing.T) {
	t.Run("phi4-mini", func(t *testing.T) {
		const layers = 32
		var infos []gguf.TensorInfo
		add := func(name string, dims ...uint64) {
			typ := gguf.TypeBF16
			if len(dims) == 1 {
				typ = gguf.TypeF32 // as the converter writes norms and factors
			}
			infos = append(infos, gguf.TensorInfo{Name: name, Type: typ, Dims: dims})
		}
		add("rope_factors_long.weight", 48)
		add("rope_factors_short.weight", 48)
		add("token_embd.weight", 3072, 200064)
		add("output_norm.weight", 3072)
		for l := range layers {
			p := fmt.Sprintf("blk.%d.", l)
			add(p+"attn_norm.weight", 3072)
			add(p+"attn_output.weight", 3072, 3072)
			add(p+"attn_qkv.weight", 3072, 3072+2*1024)
			add(p+"ffn_down.weight", 8192, 3072)
			add(p+"ffn_up.weight", 3072, 2*8192)
			add(p+"ffn_norm.weight", 3072)
		}
		got := familyPlan(t, "phi3", layers, 24, 8, infos)
		for name, typ := range got {
			want := gguf.TypeQ4_K
			var l int
			fmt.Sscanf(name, "blk.%d.", &l)
			switch {
			case strings.HasPrefix(name, "rope_factors") || strings.HasSuffix(name, "norm.weight"):
				want = gguf.TypeF32
			case name == "token_embd.weight":
				want = gguf.TypeQ6_K // tied: the output's type
			case (strings.HasSuffix(name, "attn_qkv.weight") || strings.HasSuffix(name, "ffn_down.weight")) && moreBits(l, layers):
				want = gguf.TypeQ6_K
			}
			if typ != want {
				t.Errorf("%s: %s, want %s", name, typ, want)
			}
		}
	})
	t.Run("gemma3-1b", func(t *testing.T) {
		const layers = 26
		var infos []gguf.TensorInfo
		add := func(name string, dims ...uint64) {
			typ := gguf.TypeBF16
			if len(dims) == 1 {
				typ = gguf.TypeF32 // as the converter writes norms and factors
			}
			infos = append(infos, gguf.TensorInfo{Name: name, Type: typ, Dims: dims})
		}
		add("token_embd.weight", 1152, 262144)
		add("output_norm.weight", 1152)
		for l := range layers {
			p := fmt.Sprintf("blk.%d.", l)
			add(p+"attn_k.weight", 1152, 256)
			add(p+"attn_k_norm.weight", 256)
			add(p+"attn_norm.weight", 1152)
			add(p+"attn_output.weight", 1024, 1152)
			add(p+"attn_q.weight", 1152, 1024)
			add(p+"attn_q_norm.weight", 256)
			add(p+"attn_v.weight", 1152, 256)
			add(p+"ffn_down.weight", 6912, 1152)
			add(p+"ffn_gate.weight", 1152, 6912)
			add(p+"ffn_up.weight", 1152, 6912)
			add(p+"post_attention_norm.weight", 1152)
			add(p+"post_ffw_norm.weight", 1152)
			add(p+"ffn_norm.weight", 1152)
		}
		got := familyPlan(t, "gemma3", layers, 4, 1, infos)
		for name, typ := range got {
			var l int
			fmt.Sscanf(name, "blk.%d.", &l)
			want := gguf.TypeQ5_0 // Q4_K on rows of 1152 falls back
			switch {
			case strings.HasSuffix(name, "norm.weight"):
				want = gguf.TypeF32
			case name == "token_embd.weight":
				want = gguf.TypeQ8_0 // tied, rows not a multiple of 256
			case strings.HasSuffix(name, "attn_v.weight") && moreBits(l, layers):
				want = gguf.TypeQ8_0 // Q6_K falls back
			case strings.HasSuffix(name, "ffn_down.weight") && moreBits(l, layers):
				want = gguf.TypeQ6_K // rows of 6912
			case strings.HasSuffix(name, "ffn_down.weight"), strings.HasSuffix(name, "attn_output.weight"):
				want = gguf.TypeQ4_K // rows of 6912 and 1024
			}
			if typ != want {
				t.Errorf("%s: %s, want %s", name, typ, want)
			}
		}
	})
}
