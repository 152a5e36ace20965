package prune

import (
	"context"
	"fmt"
	"math"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/distill"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/internal/testfixtures"
	"github.com/mcompress/mcompress/runtime"
)

// fixtureTeacher is the fixture teacher with its importance measured on 64 sequences of 256
// tokens of train.txt (each starting with BOS), and the tokens of valid.txt.
type fixtureTeacher struct {
	path, train, valid string
	model              *distill.Model
	imp                *Importance
	validTokens        []int32
}

func loadFixtureTeacher(t *testing.T) *fixtureTeacher {
	t.Helper()
	fix := filepath.Join(testfixtures.Shared(t), "fixtures", "shakespeare-llama")
	ft := &fixtureTeacher{path: filepath.Join(fix, "gguf", "teacher-F32.gguf"), train: filepath.Join(fix, "train.txt"), valid: filepath.Join(fix, "valid.txt")}
	var err error
	if ft.model, err = distill.LoadModel(ft.path); err != nil {
		t.Fatal(err)
	}
	rm, err := runtime.Load(ft.path, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer rm.Close()
	tokens := func(path string) []int32 {
		text, err := eval.ReadText(path, datasets.Options{})
		if err != nil {
			t.Fatal(err)
		}
		ids, err := eval.Tokenize(rm, text)
		if err != nil {
			t.Fatal(err)
		}
		return ids
	}
	ids := tokens(ft.train)
	var seqs [][]int32
	for i := 0; i < 64 && (i+1)*256 <= len(ids); i++ {
		s := slices.Clone(ids[i*256 : (i+1)*256])
		s[0] = int32(ft.model.Config.BOS)
		seqs = append(seqs, s)
	}
	if ft.imp, err = MeasureImportance(context.Background(), rm, ft.model.Config, seqs); err != nil {
		t.Fatal(err)
	}
	ft.validTokens = tokens(ft.valid)
	return ft
}

// perplexity returns m's perplexity on valid.txt at n_ctx 256 (llama.cpp's chunking).
func (ft *fixtureTeacher) perplexity(t *testing.T, m *runtime.Model) float64 {
	t.Helper()
	r, err := eval.Perplexity(context.Background(), m, ft.validTokens, eval.PerplexityOptions{Context: 256})
	if err != nil {
		t.Fatal(err)
	}
	return r.PPL
}

// TestStructuredPruneFixture prunes the fixture teacher in several ways without retraining
// (the table in docs/PRUNE-STRUCTURED.md) and checks two design decisions on real weights:
// the RMSNorm rescaling after hidden-channel pruning lowers the perplexity, and pruning by
// importance beats pruning the same number of structures chosen against it.
func TestStructuredPruneFixture(t *testing.T) {
	if testing.Short() {
		t.Skip("a minute of evaluation; run without -short")
	}
	ft := loadFixtureTeacher(t)
	cfg := ft.model.Config
	measure := func(spec StructuredSpec, imp *Importance, unscale bool) (float64, *StructuredReport) {
		t.Helper()
		nc, nw, rep, err := ApplyStructured(cfg, fromDistill(ft.model), imp, spec)
		if err != nil {
			t.Fatal(err)
		}
		if unscale {
			for n, tw := range nw {
				if strings.HasSuffix(n, "norm.weight") && !strings.HasSuffix(n, "q_norm.weight") && !strings.HasSuffix(n, "k_norm.weight") {
					for i := range tw.Data {
						tw.Data[i] = float32(float64(tw.Data[i]) / rep.NormScale)
					}
				}
			}
		}
		m, err := runtime.FromTensors(nc, nw, ft.model.Metadata, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		return ft.perplexity(t, m), rep
	}
	// The opposite ranking: every score negated.
	inv := &Importance{Hidden: neg(ft.imp.Hidden), Layers: neg(ft.imp.Layers)}
	for l := range ft.imp.Heads {
		inv.Heads = append(inv.Heads, neg(ft.imp.Heads[l]))
		inv.FFN = append(inv.FFN, neg(ft.imp.FFN[l]))
	}
	// ranked: removing the most important structures instead must be worse. Not asserted for
	// query heads chosen within KV groups, where the output norm does not predict which of a
	// group's two heads matters more on this model (docs/PRUNE-STRUCTURED.md).
	for _, tc := range []struct {
		spec   StructuredSpec
		ranked bool
	}{
		{StructuredSpec{}, false},
		{StructuredSpec{Heads: 4}, false},
		{StructuredSpec{Heads: 4, HeadMode: HeadsWholeGroups}, true},
		{StructuredSpec{FFN: 384}, true},
		{StructuredSpec{Hidden: 192}, true},
		{StructuredSpec{Layers: 3}, true},
		{StructuredSpec{Layers: 2}, true},
		{StructuredSpec{Heads: 4, FFN: 384, Hidden: 192}, true},
		{StructuredSpec{Heads: 4, FFN: 384, Hidden: 192, HeadMode: HeadsWholeGroups}, true},
		{StructuredSpec{FFN: 512, Hidden: 192, Layers: 3}, true},
	} {
		spec := tc.spec
		ppl, rep := measure(spec, ft.imp, false)
		if math.IsNaN(ppl) || math.IsInf(ppl, 0) {
			t.Fatalf("%s: perplexity %v", spec, ppl)
		}
		name, extra := spec.String(), ""
		if name == "" {
			name = "(nothing: the teacher)"
		}
		if !spec.IsZero() {
			worst, _ := measure(spec, inv, false)
			extra += fmt.Sprintf("  | most important removed instead: %.2f", worst)
			if tc.ranked && worst <= ppl {
				t.Errorf("%s: removing the most important structures (%.2f) is no worse than the least (%.2f)", spec, worst, ppl)
			}
		}
		if rep.NormScale != 1 {
			plain, _ := measure(spec, ft.imp, true)
			extra += fmt.Sprintf("  | without norm rescaling: %.2f", plain)
			if plain <= ppl {
				t.Errorf("%s: norm rescaling gives %.2f, without %.2f", spec, ppl, plain)
			}
		}
		t.Logf("%-60s %5.1f%% of the parameters, perplexity %.2f%s", name, 100*float64(rep.ParamsAfter)/float64(rep.ParamsBefore), ppl, extra)
	}
	t.Logf("block influence: %.4f", ft.imp.Layers)
}

func neg(v []float64) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = -x
	}
	return out
}
