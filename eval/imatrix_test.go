package eval

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/shard"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
)

// obs is one observation of the named weights for the collector tests.
func obs(x []float32, rows, cols int, weights ...string) runtime.Activations {
	return runtime.Activations{Site: runtime.SiteAttnInput, Weights: weights, X: x[:rows*cols], Rows: rows, Cols: cols}
}

func TestImatrixWriter(t *testing.T) {
	c := NewImatrixCollector()
	x := make([]float32, 16*3)
	for i := range x {
		x[i] = float32(i%3 + 1) // columns 1, 2, 3
	}
	c.Observe(obs(x, 16, 3, "blk.0.ffn_down.weight"))
	c.Observe(obs(x, 16, 3, "blk.0.ffn_down.weight"))
	c.Observe(obs(x, 15, 3, "blk.0.ffn_down.weight")) // fewer than 16 rows: ignored
	c.Observe(obs(x, 16, 3, "output.weight"))         // not collected by default
	c.Observe(obs(x, 16, 2, "blk.1.attn_q.weight"))
	c.chunks, c.chunkSize = 4, 8
	path := filepath.Join(t.TempDir(), "imatrix.gguf")
	if err := c.WriteGGUF(path, []string{"train.txt"}); err != nil {
		t.Fatal(err)
	}
	// The layout llama-imatrix writes.
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, ti := range f.Tensors {
		names = append(names, ti.Name)
		if ti.Type != gguf.TypeF32 {
			t.Errorf("%s: type %s, want F32", ti.Name, ti.Type)
		}
	}
	want := []string{"blk.0.ffn_down.weight.in_sum2", "blk.0.ffn_down.weight.counts", "blk.1.attn_q.weight.in_sum2", "blk.1.attn_q.weight.counts"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("tensors %v, want %v", names, want)
	}
	// As llama-imatrix writes them: ggml drops the trailing 1 of [n_cols, 1] and [1, 1].
	if ti, _ := f.Tensor("blk.0.ffn_down.weight.in_sum2"); !reflect.DeepEqual(ti.Dims, []uint64{3}) {
		t.Errorf("in_sum2 dims %v, want [3]", ti.Dims)
	}
	if ti, _ := f.Tensor("blk.0.ffn_down.weight.counts"); !reflect.DeepEqual(ti.Dims, []uint64{1}) {
		t.Errorf("counts dims %v, want [1]", ti.Dims)
	}
	md := f.Metadata
	if v, ok := md.Uint("imatrix.chunk_count"); !ok || v != 4 {
		t.Errorf("imatrix.chunk_count = %v, %v", v, ok)
	}
	if v, ok := md.Uint("imatrix.chunk_size"); !ok || v != 8 {
		t.Errorf("imatrix.chunk_size = %v, %v", v, ok)
	}
	if ds, ok := md.Strings("imatrix.datasets"); !ok || !reflect.DeepEqual(ds, []string{"train.txt"}) {
		t.Errorf("imatrix.datasets = %v, %v", ds, ok)
	}
	f.Close()

	// quantize reads it back as mean squared activations.
	im, err := quantize.ReadImatrix(path)
	if err != nil {
		t.Fatal(err)
	}
	if got := im.Entries["blk.0.ffn_down.weight"]; !reflect.DeepEqual(got, []float32{1, 4, 9}) {
		t.Errorf("ffn_down importance %v, want [1 4 9]", got)
	}
	if got := im.Entries["blk.1.attn_q.weight"]; len(got) != 2 {
		t.Errorf("attn_q importance %v", got)
	}
	if im.ChunkCount != 4 || im.ChunkSize != 8 || !reflect.DeepEqual(im.Datasets, []string{"train.txt"}) {
		t.Errorf("metadata read back as %d %d %v", im.ChunkCount, im.ChunkSize, im.Datasets)
	}
	if mem := c.Imatrix([]string{"train.txt"}); !reflect.DeepEqual(mem.Entries, im.Entries) {
		t.Errorf("in-memory imatrix %v differs from the file's %v", mem.Entries, im.Entries)
	}

	c2 := NewImatrixCollector()
	c2.ProcessOutput = true
	c2.Observe(obs(x, 16, 3, "output.weight", "blk.0.attn_q.weight"))
	if n := c2.Names(); !reflect.DeepEqual(n, []string{"blk.0.attn_q.weight", "output.weight"}) {
		t.Errorf("ProcessOutput: collected %v", n)
	}
	if err := NewImatrixCollector().WriteGGUF(filepath.Join(t.TempDir(), "x.gguf"), nil); err == nil {
		t.Error("empty collector written without error")
	}
}

// TestImatrixFixture collects two chunks on the fixture model: every block matrix is seen
// with every token, matrices sharing an input get the same sums, and observing changes no
// logit.
func TestImatrixFixture(t *testing.T) {
	dir := fixtureDir(t)
	text, err := os.ReadFile(filepath.Join(dir, "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	model := filepath.Join(dir, "gguf", "teacher-Q8_0.gguf")
	o := ImatrixOptions{Context: 128, MaxChunks: 2}
	c, ppl, err := ComputeImatrix(ctx, model, string(text[:20000]), 0, false, o)
	if err != nil {
		t.Fatal(err)
	}
	names := c.Names()
	if len(names) != 4*7 {
		t.Fatalf("%d matrices collected, want 28: %v", len(names), names)
	}
	im := c.Imatrix(nil)
	st := c.Stats(nil)
	for _, n := range names {
		if e := st.Entries[n]; !reflect.DeepEqual(e.Counts, []int64{256}) {
			t.Errorf("%s: %v tokens counted, want 256", n, e.Counts)
		}
	}
	for _, pair := range [][2]string{{"blk.0.attn_q.weight", "blk.0.attn_k.weight"}, {"blk.2.ffn_gate.weight", "blk.2.ffn_up.weight"}} {
		if !reflect.DeepEqual(im.Entries[pair[0]], im.Entries[pair[1]]) {
			t.Errorf("%s and %s share their input but differ", pair[0], pair[1])
		}
	}
	if n := len(im.Entries["blk.1.ffn_down.weight"]); n != 768 {
		t.Errorf("ffn_down has %d columns, want 768", n)
	}
	// The same chunks without an observer give the same perplexity, bit for bit.
	m, err := runtime.Load(model, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tokens, err := Tokenize(m, string(text[:20000]))
	if err != nil {
		t.Fatal(err)
	}
	plain, err := Perplexity(ctx, m, tokens, PerplexityOptions{Context: 128, MaxChunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(plain.PPL/ppl.PPL-1) > 1e-12 {
		t.Errorf("PPL with the observer %v, without %v", ppl.PPL, plain.PPL)
	}
}

// TestImatrixBytes pins the bytes of the imatrix files we write, so that moving the writer or
// the collector cannot change them: a hand-made collection, and two chunks of the fixture model
// with --process-output (both hashes taken from the writer as it was before the move).
func TestImatrixBytes(t *testing.T) {
	hash := func(c *ImatrixCollector, datasets []string) string {
		t.Helper()
		path := filepath.Join(t.TempDir(), "imatrix.gguf")
		if err := c.WriteGGUF(path, datasets); err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return fmt.Sprintf("%d %x", len(b), sha256.Sum256(b))
	}
	c := NewImatrixCollector()
	x := make([]float32, 16*3)
	for i := range x {
		x[i] = float32(i%3+1) * 0.1
	}
	c.Observe(obs(x, 16, 3, "blk.0.ffn_down.weight"))
	c.Observe(obs(x, 16, 3, "blk.0.ffn_down.weight"))
	c.Observe(obs(x, 16, 2, "blk.1.attn_q.weight"))
	c.chunks, c.chunkSize = 4, 8
	if got, want := hash(c, []string{"train.txt"}), "576 3a720d44fa79391d6027cd9afdb127ddfc7485de760d9a9bfcaad083c38b2981"; got != want {
		t.Errorf("hand-made imatrix: %s, want %s", got, want)
	}

	dir := fixtureDir(t)
	text, err := os.ReadFile(filepath.Join(dir, "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "gguf", "teacher-Q8_0.gguf")
	c, _, err = ComputeImatrix(context.Background(), model, string(text[:20000]), 0, true, ImatrixOptions{Context: 128, MaxChunks: 2})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := hash(c, []string{"valid.txt"}), "42464 6b092becc37e64509f78889421a57ebaeb671f75bb364c7b1751cd55cfeb48c7"; got != want {
		t.Errorf("fixture imatrix: %s, want %s", got, want)
	}
}

// TestImatrixImprovesQuantization computes an importance matrix on train.txt with our tool
// and checks that our Q4_K_M and Q3_K_M quantizations made with it are closer to F32 (lower
// mean KLD on valid.txt) than without it.
func TestImatrixImprovesQuantization(t *testing.T) {
	if testing.Short() {
		t.Skip("heavy: imatrix on train.txt, four quantizations and KL-divergence runs")
	}
	dir := fixtureDir(t)
	ctx := context.Background()
	f32 := filepath.Join(dir, "gguf", "teacher-F32.gguf")
	train, err := os.ReadFile(filepath.Join(dir, "train.txt"))
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	c, ppl, err := ComputeImatrix(ctx, f32, string(train), 0, false, ImatrixOptions{Context: 256, MaxChunks: 400})
	if err != nil {
		t.Fatal(err)
	}
	imPath := filepath.Join(tmp, "imatrix.gguf")
	if err := c.WriteGGUF(imPath, []string{"train.txt"}); err != nil {
		t.Fatal(err)
	}
	t.Logf("imatrix: %d matrices over %d chunks (PPL on the way %.3f)", len(c.Names()), ppl.Chunks, ppl.PPL)
	im, err := quantize.ReadImatrix(imPath)
	if err != nil {
		t.Fatal(err)
	}

	valid, err := os.ReadFile(filepath.Join(dir, "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	base, err := runtime.Load(f32, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	tokens, err := Tokenize(base, string(valid))
	if err != nil {
		t.Fatal(err)
	}
	kpath := filepath.Join(tmp, "f32.kld")
	_, err = WriteKLBase(ctx, base, tokens, kpath, PerplexityOptions{Context: 256})
	base.Close()
	if err != nil {
		t.Fatal(err)
	}
	kb, err := OpenKLBase(kpath)
	if err != nil {
		t.Fatal(err)
	}
	defer kb.Close()
	kld := func(path string) float64 {
		m, err := runtime.Load(path, runtime.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer m.Close()
		r, err := KLDivergence(ctx, m, kb, KLDOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return r.MeanKLD
	}
	for _, mixName := range []string{"Q4_K_M", "Q3_K_M"} {
		mix, err := quantize.ParseMix(mixName)
		if err != nil {
			t.Fatal(err)
		}
		plain := filepath.Join(tmp, mixName+".gguf")
		withIm := filepath.Join(tmp, mixName+"-imatrix.gguf")
		if _, err := quantize.QuantizeFile(ctx, f32, plain, quantize.Options{Mix: mix}); err != nil {
			t.Fatal(err)
		}
		if _, err := quantize.QuantizeFile(ctx, f32, withIm, quantize.Options{Mix: mix, Imatrix: im, ImatrixFile: imPath}); err != nil {
			t.Fatal(err)
		}
		k0, k1 := kld(plain), kld(withIm)
		t.Logf("%s: mean KLD %.6f without the imatrix, %.6f with it (%.1f%% lower)", mixName, k0, k1, 100*(1-k1/k0))
		if !(k1 < k0) {
			t.Errorf("%s: the imatrix did not lower the KLD (%.6f -> %.6f)", mixName, k0, k1)
		}
	}
}

// TestImatrixShardsMerge runs the fixture's imatrix as 1, 2 and 3 shards, merges them and
// checks the merged file is byte-identical to one run's, and that without the exact sums the
// merge still works (as llama-imatrix --in-file adds float32 sums).
func TestImatrixShardsMerge(t *testing.T) {
	dir := fixtureDir(t)
	text, err := os.ReadFile(filepath.Join(dir, "valid.txt"))
	if err != nil {
		t.Fatal(err)
	}
	model := filepath.Join(dir, "gguf", "teacher-Q8_0.gguf")
	tmp := t.TempDir()
	o := ImatrixOptions{Context: 64, MaxChunks: 5}
	run := func(s shard.Shard) *ImatrixCollector {
		t.Helper()
		o.Shard = s
		c, _, err := ComputeImatrix(context.Background(), model, string(text[:20000]), 0, true, o)
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	onePath := filepath.Join(tmp, "one.gguf")
	if err := run(shard.Whole).WriteGGUF(onePath, []string{"valid.txt"}); err != nil {
		t.Fatal(err)
	}
	one, err := os.ReadFile(onePath)
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 2, 3} {
		var parts []string
		for i := range n {
			p := filepath.Join(tmp, fmt.Sprintf("part-%d-of-%d.gguf", i, n))
			s := shard.Shard{Index: i, Count: n}
			if err := run(s).WriteShard(p, []string{"valid.txt"}, s); err != nil {
				t.Fatal(err)
			}
			parts = append(parts, p)
		}
		stats, state, err := MergeImatrix(parts)
		if err != nil {
			t.Fatal(err)
		}
		if state == nil {
			t.Fatalf("N=%d: merge was not exact", n)
		}
		out := filepath.Join(tmp, fmt.Sprintf("merged-%d.gguf", n))
		if err := WriteMergedImatrix(out, stats, state); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, one) {
			t.Errorf("N=%d: merged shards differ from one run (%d bytes, %x; want %d bytes, %x)", n, len(got), sha256.Sum256(got), len(one), sha256.Sum256(one))
		}
		if n == 3 {
			// Without the exact sums: llama-imatrix --in-file's float32 addition.
			for _, p := range parts {
				os.Remove(p + ImatrixStateSuffix)
			}
			stats, state, err := MergeImatrix(parts)
			if err != nil || state != nil {
				t.Fatalf("float merge: %v, exact %v", err, state != nil)
			}
			if stats.ChunkCount != 5 || !reflect.DeepEqual(stats.Datasets, []string{"valid.txt"}) {
				t.Errorf("float merge: %d chunks, datasets %v", stats.ChunkCount, stats.Datasets)
			}
		}
	}
	// Bad input names the file.
	if _, _, err := MergeImatrix([]string{filepath.Join(tmp, "missing.gguf")}); err == nil || !strings.Contains(err.Error(), "missing.gguf") {
		t.Errorf("missing input: %v", err)
	}
	o.Shard = shard.Shard{Index: 0, Count: 7} // 5 chunks over 7 shards: the first gets none
	if _, _, err := ComputeImatrix(context.Background(), model, string(text[:20000]), 0, true, o); err == nil || !strings.Contains(err.Error(), "has none") {
		t.Errorf("a shard without chunks: %v", err)
	}
}
