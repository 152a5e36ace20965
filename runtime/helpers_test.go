package runtime

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/internal/testfixtures"

	"github.com/mcompress/mcompress/convert/dtype"
)

// sharedDir returns ../shared beside the repository, skipping the test when it is absent.
func sharedDir(t testing.TB) string { t.Helper(); return testfixtures.Shared(t) }

// fixtureDir returns the shakespeare-llama fixture folder.
func fixtureDir(t testing.TB) string {
	return filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama")
}

// golden is the reference forward pass of the fixture model.
type golden struct {
	Tokens []int32 `json:"token_ids"`
	Shape  [2]int  `json:"logits_shape"`
	Logits []float32
}

func loadGolden(t testing.TB) golden {
	dir := filepath.Join(fixtureDir(t), "golden")
	raw, err := os.ReadFile(filepath.Join(dir, "golden.json"))
	if err != nil {
		t.Fatal(err)
	}
	var g golden
	if err := json.Unmarshal(raw, &g); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(filepath.Join(dir, "logits-f32.bin"))
	if err != nil {
		t.Fatal(err)
	}
	if len(b) != 4*g.Shape[0]*g.Shape[1] || len(g.Tokens) != g.Shape[0] {
		t.Fatalf("golden logits: %d bytes for shape %v and %d tokens", len(b), g.Shape, len(g.Tokens))
	}
	g.Logits = make([]float32, len(b)/4)
	dtype.DecodeF32(g.Logits, b)
	return g
}

// relErr returns max|got-want| / (max(want) - min(want)).
func relErr(got, want []float32) float64 {
	lo, hi := math.Inf(1), math.Inf(-1)
	var worst float64
	for i, w := range want {
		lo, hi = math.Min(lo, float64(w)), math.Max(hi, float64(w))
		worst = math.Max(worst, math.Abs(float64(got[i])-float64(w)))
	}
	return worst / (hi - lo)
}
