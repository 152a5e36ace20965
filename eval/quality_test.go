package eval

import (
	"context"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/runtime"
)

// referenceQuality is reference-quality.json: llama-perplexity's figures for the fixture.
type referenceQuality struct {
	NCtx    int     `json:"n_ctx"`
	BaseF32 float64 `json:"base_ppl_f32"`
	Rows    []struct {
		Type     string  `json:"type"`
		PPL      float64 `json:"ppl"`
		MeanKLD  float64 `json:"mean_kld"`
		SameTopP float64 `json:"same_top_p_percent"`
	} `json:"rows"`
}

func loadReference(t *testing.T) (string, referenceQuality, []byte) {
	t.Helper()
	dir := fixtureDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "reference-quality.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref referenceQuality
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	text, err := os.ReadFile(filepath.Join(dir, "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	return dir, ref, text
}

// llamaScored is the number of tokens llama-perplexity scores on valid.txt with n_ctx 256
// (180 chunks of 127).
const llamaScored = 22860

// TestPerplexityShort checks one quantized model's perplexity on valid.txt against
// llama-perplexity within 0.1% (the quick check that -short keeps).
func TestPerplexityShort(t *testing.T) {
	dir, ref, text := loadReference(t)
	const typ = "Q4_0"
	m, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-"+typ+".gguf"), runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tokens, err := Tokenize(m, string(text))
	if err != nil {
		t.Fatal(err)
	}
	r, err := Perplexity(context.Background(), m, tokens, PerplexityOptions{Context: ref.NCtx, Source: "valid.txt"})
	if err != nil {
		t.Fatal(err)
	}
	var want float64
	for _, row := range ref.Rows {
		if row.Type == typ {
			want = row.PPL
		}
	}
	t.Logf("%s: PPL %.6f ± %.5f (llama.cpp %.6f), %d tokens scored, %.0f tokens/s", typ, r.PPL, r.Uncertainty, want, r.Scored, r.TokensPerSecond)
	if r.Scored != llamaScored || r.Chunks != 180 {
		t.Errorf("scored %d tokens in %d chunks, llama-perplexity scores %d in 180", r.Scored, r.Chunks, llamaScored)
	}
	if math.Abs(r.PPL/want-1) > 1e-3 {
		t.Errorf("PPL %.6f, llama.cpp %.6f: more than 0.1%% apart", r.PPL, want)
	}
	// llama.cpp's ± on this text is about 3% of the PPL: a sanity bound on the uncertainty.
	if r.Uncertainty <= 0 || r.Uncertainty > 0.1*r.PPL {
		t.Errorf("uncertainty %.5f implausible for PPL %.4f", r.Uncertainty, r.PPL)
	}
}

// TestQualityMatchesLlamaCpp checks every fixture GGUF: perplexity within 0.1% and mean
// KL-divergence from F32 within 5% of llama-perplexity (plus half a unit of the reference's
// last printed digit, 5e-7, since it is rounded to 6 decimals).
func TestQualityMatchesLlamaCpp(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: every fixture model over valid.txt (run without -short)")
	}
	dir, ref, text := loadReference(t)
	ctx := context.Background()
	base, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-F32.gguf"), runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := Tokenize(base, string(text))
	if err != nil {
		t.Fatal(err)
	}
	kpath := filepath.Join(t.TempDir(), "f32.kld")
	bp, err := WriteKLBase(ctx, base, tokens, kpath, PerplexityOptions{Context: ref.NCtx})
	base.Close()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("F32: PPL %.6f (llama.cpp %.6f)", bp.PPL, ref.BaseF32)
	if math.Abs(bp.PPL/ref.BaseF32-1) > 1e-3 {
		t.Errorf("F32: PPL %.6f, llama.cpp %.6f", bp.PPL, ref.BaseF32)
	}
	kb, err := OpenKLBase(kpath)
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	for _, row := range ref.Rows {
		t.Run(row.Type, func(t *testing.T) {
			m, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-"+row.Type+".gguf"), runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			k, err := KLDivergence(ctx, m, kb, KLDOptions{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("%-6s PPL %.6f (llama.cpp %.6f, %+.4f%%)  KLD %.6f (llama.cpp %.6f)  same top %.3f%% (llama.cpp %.3f%%)  %.0f tok/s",
				row.Type, k.PPL, row.PPL, 100*(k.PPL/row.PPL-1), k.MeanKLD, row.MeanKLD, 100*k.SameTopP, row.SameTopP, k.TokensPerSecond)
			if k.Scored != llamaScored {
				t.Errorf("scored %d, want %d", k.Scored, llamaScored)
			}
			if math.Abs(k.PPL/row.PPL-1) > 1e-3 {
				t.Errorf("PPL %.6f, llama.cpp %.6f: more than 0.1%% apart", k.PPL, row.PPL)
			}
			if tol := 0.05*math.Abs(row.MeanKLD) + 5e-7; math.Abs(k.MeanKLD-row.MeanKLD) > tol {
				t.Errorf("mean KLD %.7f, llama.cpp %.6f: further apart than %.2g", k.MeanKLD, row.MeanKLD, tol)
			}
			if math.Abs(k.BasePPL/ref.BaseF32-1) > 1e-3 {
				t.Errorf("base PPL from the file %.6f, llama.cpp %.6f", k.BasePPL, ref.BaseF32)
			}
		})
	}
}
