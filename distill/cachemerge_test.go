package distill

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/internal/shard"
)

// TestCacheShardsMerge builds a teacher cache whole and as 1, 2 and 3 shards (given to the merge
// in reverse order) and checks the merged file is byte-identical to the whole build's, and that
// an incomplete set of shards is refused.
func TestCacheShardsMerge(t *testing.T) {
	dir := fixtureDir(t)
	tmp := t.TempDir()
	teacherPath := filepath.Join(dir, "gguf", "teacher-Q8_0.gguf")
	data := DataOptions{Path: headOfFile(t, filepath.Join(dir, "valid.txt"), 8000), ValidFraction: 0.2}
	o := CacheOptions{Teacher: teacherPath, Data: data, SeqLen: 64, K: 8, Seed: 5, Output: filepath.Join(tmp, "whole.topk")}
	if _, err := BuildCache(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(o.Output)
	if err != nil {
		t.Fatal(err)
	}
	for n := 1; n <= 3; n++ {
		var parts []string
		for i := n - 1; i >= 0; i-- {
			o.Shard = shard.Shard{Index: i, Count: n, Source: "--shard"}
			o.Output = filepath.Join(tmp, fmt.Sprintf("part-%d-of-%d.topk", i, n))
			if _, err := BuildCache(context.Background(), o); err != nil {
				t.Fatal(err)
			}
			parts = append(parts, o.Output)
		}
		out := filepath.Join(tmp, fmt.Sprintf("merged-%d.topk", n))
		if _, err := MergeCaches(out, parts); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("N=%d: merged cache (%d bytes) differs from the whole build's (%d bytes)", n, len(got), len(want))
		}
		if n == 3 {
			if _, err := MergeCaches(filepath.Join(tmp, "x.topk"), parts[:2]); err == nil || !strings.Contains(err.Error(), "missing") {
				t.Errorf("two of three shards: %v", err)
			}
			if _, err := MergeCaches(filepath.Join(tmp, "x.topk"), []string{filepath.Join(tmp, "whole.topk")}); err == nil || !strings.Contains(err.Error(), "whole.topk") {
				t.Errorf("a whole cache as a shard: %v", err)
			}
		}
	}
}
