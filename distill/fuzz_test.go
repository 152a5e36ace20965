package distill

import (
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/convert"
)

// syntheticCache writes a small teacher cache with random rows (no teacher needed) and returns
// its bytes.
func syntheticCache(t testing.TB, vocab, k, seqLen, seqs int) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "s.topk")
	w, err := newCacheWriter(path, CacheInfo{Teacher: "synthetic", Vocab: vocab, K: k, LogPBits: 8, LogPStep: 1.0 / 16, SeqLen: seqLen})
	if err != nil {
		t.Fatal(err)
	}
	defer w.abort()
	rng := rand.New(rand.NewPCG(9, 9))
	codec := w.info.codec()
	mk := func(n int) [][]int32 {
		out := make([][]int32, n)
		for i := range out {
			out[i] = make([]int32, seqLen)
			for j := range out[i] {
				out[i][j] = int32(rng.IntN(vocab))
			}
		}
		return out
	}
	rows := func(int) ([]byte, error) {
		var b []byte
		var s topKSelector
		var keep []int32
		for range seqLen - 1 {
			tail := s.selectRow(randRow(rng, vocab, 3), k)
			b, keep = codec.encodeRow(b, s.ids, s.lps, tail, keep)
		}
		return b, nil
	}
	if err := w.split("train", mk(seqs), rows); err != nil {
		t.Fatal(err)
	}
	if err := w.split("valid", mk(1), rows); err != nil {
		t.Fatal(err)
	}
	if err := w.commit(); err != nil {
		t.Fatal(err)
	}
	return readFile(t, path)
}

// readAllCache decodes everything in a parsed cache, as training would.
func readAllCache(c *Cache) error {
	var tk TopKBatch
	for _, split := range []string{"train", "valid"} {
		for i := range c.Sequences(split) {
			if _, err := c.Tokens(split, i, nil); err != nil {
				return err
			}
			tk.Reset()
			if err := c.TopK(split, i, &tk); err != nil {
				return err
			}
		}
	}
	return nil
}

func TestSyntheticCache(t *testing.T) {
	b := syntheticCache(t, 300, 8, 16, 3)
	c, err := parseCache(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := readAllCache(c); err != nil {
		t.Fatal(err)
	}
	if c.Sequences("train") != 3 || c.Sequences("valid") != 1 {
		t.Fatalf("sequences %d/%d", c.Sequences("train"), c.Sequences("valid"))
	}
}

// FuzzParseCache: arbitrary bytes never panic the cache parser or the row decoder.
func FuzzParseCache(f *testing.F) {
	f.Add(syntheticCache(f, 300, 8, 16, 2))
	f.Add(syntheticCache(f, 70000, 3, 4, 1))
	f.Add([]byte(cacheMagic + cacheMagic))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := parseCache(b)
		if err != nil {
			return
		}
		if c.Info.SeqLen*c.Sequences("train") > 1<<16 {
			return // bounded by the file size, but keep each run fast
		}
		_ = readAllCache(c)
	})
}

// FuzzDecodeRow: arbitrary bytes never panic a row decode, and a decoded row is well formed.
func FuzzDecodeRow(f *testing.F) {
	codec := topKCodec{k: 8, bits: 8, step: 1.0 / 16}
	var s topKSelector
	rng := rand.New(rand.NewPCG(1, 2))
	tail := s.selectRow(randRow(rng, 300, 3), 8)
	row, _ := codec.encodeRow(nil, s.ids, s.lps, tail, nil)
	f.Add(row)
	f.Add([]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, b []byte) {
		var tk TopKBatch
		tk.Reset()
		n, err := codec.decodeRow(b, 300, &tk)
		if err != nil {
			return
		}
		if n > len(b) || len(tk.IDs) > 8 || len(tk.IDs) != len(tk.LogP) {
			t.Fatalf("read %d of %d bytes, %d ids, %d log-probs", n, len(b), len(tk.IDs), len(tk.LogP))
		}
		for i := 1; i < len(tk.IDs); i++ {
			if tk.IDs[i] <= tk.IDs[i-1] || tk.IDs[i] >= 300 {
				t.Fatalf("ids %v not ascending within the vocabulary", tk.IDs)
			}
		}
	})
}

// FuzzParseHFConfig: arbitrary student config.json bytes read over a teacher's configuration
// (convert.ParseHFConfig) never panic, and an accepted config that passes CheckConfig builds a
// model.
func FuzzParseHFConfig(f *testing.F) {
	for _, p := range []string{"grads/student/config.json", "hf/config.json"} {
		if b, err := os.ReadFile(filepath.Join("..", "..", "shared", "fixtures", "shakespeare-llama", p)); err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"architectures":["Qwen3ForCausalLM"],"hidden_size":64,"num_attention_heads":4,"head_dim":32}`))
	f.Add([]byte(`{"hidden_size":-1}`))
	f.Add([]byte(`{"rope_scaling":{"rope_type":"linear","factor":2}}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		base := tinyConfig("llama")
		c, err := convert.ParseHFConfig(b, "config.json", base)
		if err != nil || CheckConfig(c) != nil || c.NumParams() > 1<<20 {
			return
		}
		if _, err := NewModel(c, nil); err != nil {
			t.Fatalf("config %+v passed CheckConfig but NewModel failed: %v", c, err)
		}
	})
}
