package eval

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/internal/shard"
	"github.com/mcompress/mcompress/runtime"
)

// TestPerplexityShardsMerge scores the fixture text as 1, 2 and 3 shards, saves each shard's
// result as JSON, reads them back and merges them (in scrambled order): PPL, uncertainty and
// mean NLL equal one run's bit for bit, and incomplete or mixed sets of shards are refused.
func TestPerplexityShardsMerge(t *testing.T) {
	dir := fixtureDir(t)
	text, err := os.ReadFile(filepath.Join(dir, "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-Q8_0.gguf"), runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tokens, err := Tokenize(m, string(text[:30000]))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, stride := range []int{0, 32} {
		o := PerplexityOptions{Context: 64, MaxChunks: 7, Stride: stride}
		one, err := Perplexity(ctx, m, tokens, o)
		if err != nil {
			t.Fatal(err)
		}
		if one.Shard != nil {
			t.Fatal("a run without shards keeps its NLLs")
		}
		for n := 1; n <= 3; n++ {
			var parts []*PerplexityResult
			var names []string
			for i := n - 1; i >= 0; i-- { // reversed: the merge orders them
				o.Shard = shard.Shard{Index: i, Count: n, Source: "--shard"}
				r, err := Perplexity(ctx, m, tokens, o)
				if err != nil {
					t.Fatal(err)
				}
				b, err := json.Marshal(r)
				if err != nil {
					t.Fatal(err)
				}
				path := filepath.Join(t.TempDir(), fmt.Sprintf("ppl-%d.json", i))
				if err := os.WriteFile(path, b, 0o644); err != nil {
					t.Fatal(err)
				}
				back, err := ReadPerplexityShard(path)
				if err != nil {
					t.Fatal(err)
				}
				parts, names = append(parts, back), append(names, path)
			}
			got, err := MergePerplexity(parts, names)
			if err != nil {
				t.Fatal(err)
			}
			if got.PPL != one.PPL || got.Uncertainty != one.Uncertainty || got.MeanNLL != one.MeanNLL || got.Scored != one.Scored || got.Chunks != one.Chunks || got.Stride != stride {
				t.Errorf("stride %d, N=%d: merged %+v, one run %+v", stride, n, got, one)
			}
			if n == 3 {
				if _, err := MergePerplexity(parts[:2], names[:2]); err == nil || !strings.Contains(err.Error(), "missing") {
					t.Errorf("two of three shards: %v", err)
				}
			}
		}
	}
	if _, err := ReadPerplexityShard(filepath.Join(dir, "reference-quality.json")); err == nil || !strings.Contains(err.Error(), "reference-quality.json") {
		t.Errorf("a file that is no shard: %v", err)
	}
}
