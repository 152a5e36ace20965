package runtime

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// perplexity scores tokens as llama.cpp's llama-perplexity does: the token stream (which
// starts with BOS) is cut into chunks of nCtx, the first token of each chunk is replaced by
// BOS, and the second half of each chunk is scored (position j predicts token j+1 for j from
// nCtx/2 to nCtx-2).
func perplexity(t testing.TB, m *Model, tokens []int32, nCtx int) (ppl float64, scored int) {
	s, err := m.NewSession(nCtx)
	if err != nil {
		t.Fatal(err)
	}
	bos := int32(m.Config().BOS)
	vocab := m.Config().VocabSize
	var nll float64
	chunk := make([]int32, nCtx)
	for start := 0; start+nCtx <= len(tokens); start += nCtx {
		copy(chunk, tokens[start:start+nCtx])
		chunk[0] = bos
		logits, err := s.Forward(chunk, 0, true)
		if err != nil {
			t.Fatal(err)
		}
		for j := nCtx / 2; j < nCtx-1; j++ {
			row := logits[j*vocab : (j+1)*vocab]
			mx := math.Inf(-1)
			for _, v := range row {
				mx = math.Max(mx, float64(v))
			}
			var sum float64
			for _, v := range row {
				sum += math.Exp(float64(v) - mx)
			}
			nll += -(float64(row[chunk[j+1]]) - mx - math.Log(sum))
			scored++
		}
	}
	return math.Exp(nll / float64(scored)), scored
}

// TestPerplexityMatchesLlamaCpp compares the perplexity of every fixture GGUF on valid.txt
// with llama.cpp's llama-perplexity (reference-quality.json), within 0.1%. Under -short only
// F16 runs (the full set takes minutes).
func TestPerplexityMatchesLlamaCpp(t *testing.T) {
	dir := fixtureDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "reference-quality.json"))
	if err != nil {
		t.Fatal(err)
	}
	var ref struct {
		NCtx    int     `json:"n_ctx"`
		BaseF32 float64 `json:"base_ppl_f32"`
		Rows    []struct {
			Type string  `json:"type"`
			PPL  float64 `json:"ppl"`
		} `json:"rows"`
	}
	if err := json.Unmarshal(raw, &ref); err != nil {
		t.Fatal(err)
	}
	ref.Rows = append(ref.Rows, struct {
		Type string  `json:"type"`
		PPL  float64 `json:"ppl"`
	}{"F32", ref.BaseF32})
	text, err := os.ReadFile(filepath.Join(dir, "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var tokens []int32
	for _, row := range ref.Rows {
		if testing.Short() && row.Type != "F16" {
			continue
		}
		t.Run(row.Type, func(t *testing.T) {
			m, err := Load(filepath.Join(dir, "gguf", "teacher-"+row.Type+".gguf"), Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer m.Close()
			if tokens == nil {
				tok, err := tokenizer.FromGGUF(m.Metadata())
				if err != nil {
					t.Fatal(err)
				}
				if tokens, err = tok.Encode(string(text), tokenizer.EncodeOptions{AddSpecial: true}); err != nil {
					t.Fatal(err)
				}
				if tokens[0] != int32(m.Config().BOS) {
					t.Fatalf("encoding does not start with BOS: %v", tokens[:4])
				}
			}
			ppl, n := perplexity(t, m, tokens, ref.NCtx)
			t.Logf("%s: perplexity %.6f over %d tokens (llama.cpp %.6f, %+.4f%%)", row.Type, ppl, n, row.PPL, 100*(ppl/row.PPL-1))
			if n != 22860 {
				t.Errorf("scored %d tokens, the reference scored 22860", n)
			}
			if math.Abs(ppl/row.PPL-1) > 1e-3 {
				t.Errorf("%s: perplexity %.6f, llama.cpp %.6f: more than 0.1%% apart", row.Type, ppl, row.PPL)
			}
		})
	}
}
