package distill

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"

	"github.com/mcompress/mcompress/convert/safetensors"
)

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// fixtureDir returns the shakespeare-llama fixture folder.
func fixtureDir(t testing.TB) string {
	return filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama")
}

// goldenTokens returns the 64 token ids of golden/golden.json.
func goldenTokens(t testing.TB) []int32 {
	raw, err := os.ReadFile(filepath.Join(fixtureDir(t), "golden", "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g struct {
		Tokens []int32 `json:"token_ids"`
	}
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	return g.Tokens
}

// goldenLogits returns golden/logits-f32.bin (64 × 2048).
func goldenLogits(t testing.TB) []float32 {
	b, err := os.ReadFile(filepath.Join(fixtureDir(t), "golden", "logits-f32.bin"))
	if err != nil {
		t.Fatal(err)
	}
	out := make([]float32, len(b)/4)
	f32From(out, b)
	return out
}

// hfToGGUFName maps a Hugging Face llama parameter name to its GGUF name.
func hfToGGUFName(name string) string {
	switch name {
	case "model.embed_tokens.weight":
		return "token_embd.weight"
	case "model.norm.weight":
		return "output_norm.weight"
	case "lm_head.weight":
		return "output.weight"
	}
	var l int
	var rest string
	if _, err := fmt.Sscanf(name, "model.layers.%d.", &l); err != nil {
		return ""
	}
	rest = name[len(fmt.Sprintf("model.layers.%d.", l)):]
	m := map[string]string{
		"self_attn.q_proj.weight": "attn_q.weight", "self_attn.k_proj.weight": "attn_k.weight",
		"self_attn.v_proj.weight": "attn_v.weight", "self_attn.o_proj.weight": "attn_output.weight",
		"mlp.gate_proj.weight": "ffn_gate.weight", "mlp.up_proj.weight": "ffn_up.weight",
		"mlp.down_proj.weight": "ffn_down.weight", "input_layernorm.weight": "attn_norm.weight",
		"post_attention_layernorm.weight": "ffn_norm.weight",
	}
	if g, ok := m[rest]; ok {
		return fmt.Sprintf("blk.%d.%s", l, g)
	}
	return ""
}

// permuteRows applies llama.cpp's Q/K row permutation to an HF-order [rows, cols] tensor: GGUF
// row head·d + 2j + s holds HF row head·d + s·d/2 + j.
func permuteRows(src []float32, rows, cols, heads int) []float32 {
	dst := make([]float32, len(src))
	d := rows / heads
	for u := 0; u < rows; u++ {
		head, r := u/d, u%d
		j, s := r/2, r%2
		v := head*d + s*(d/2) + j
		copy(dst[u*cols:(u+1)*cols], src[v*cols:(v+1)*cols])
	}
	return dst
}

// readGoldenGGUF reads a safetensors file of HF-named llama tensors and returns them under
// GGUF names in GGUF row order (Q/K permuted with the given head counts).
func readGoldenGGUF(t testing.TB, path string, heads, kvHeads int) (map[string][]float32, map[string]string) {
	f, err := safetensors.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	out := map[string][]float32{}
	for i, ti := range f.Tensors {
		name := hfToGGUFName(ti.Name)
		if name == "" {
			t.Fatalf("%s: unexpected tensor %q", path, ti.Name)
		}
		if ti.DType != safetensors.F32 {
			t.Fatalf("%s: tensor %q is %s", path, ti.Name, ti.DType)
		}
		v := make([]float32, ti.NumElements())
		f32From(v, f.TensorData(i))
		switch {
		case strings.HasSuffix(name, "attn_q.weight"):
			v = permuteRows(v, int(ti.Shape[0]), int(ti.Shape[1]), heads)
		case strings.HasSuffix(name, "attn_k.weight"):
			v = permuteRows(v, int(ti.Shape[0]), int(ti.Shape[1]), kvHeads)
		}
		out[name] = v
	}
	return out, f.Metadata
}

// relErr returns max|a − b| / max|b|.
func relErr(a, b []float32) float64 {
	num, den := 0.0, 0.0
	for i := range b {
		num = math.Max(num, math.Abs(float64(a[i])-float64(b[i])))
		den = math.Max(den, math.Abs(float64(b[i])))
	}
	if den == 0 {
		return num
	}
	return num / den
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// headOfFile writes the first n bytes of path to a temporary file and returns its path.
func headOfFile(t testing.TB, path string, n int) string {
	t.Helper()
	b := readFile(t, path)
	out := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := os.WriteFile(out, b[:min(n, len(b))], 0o644); err != nil {
		t.Fatal(err)
	}
	return out
}
