package runtime

import (
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestBlocksMatchForward checks that embedding tokens and running the blocks in ranges, one
// range at a time over the whole sequence, reproduces the hidden states of Forward: the states
// observed leaving the last block, bit for bit, for several block splits and micro-batch sizes.
func TestBlocksMatchForward(t *testing.T) {
	cfg, err := RandomConfig("tiny")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteRandomModel(path, RandomModelOptions{Config: cfg, Type: gguf.TypeF32, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	var want []float32
	obs := func(a Activations) {
		if a.Site == SiteBlockOutput && a.Layer == cfg.Layers-1 {
			want = append(want, a.X...)
		}
	}
	m, err := Load(path, Options{ActivationObserver: obs})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	tokens := make([]int32, 70)
	for i := range tokens {
		tokens[i] = int32((i*37 + 5) % cfg.VocabSize)
	}
	s, err := m.NewSession(len(tokens))
	if err != nil {
		t.Fatal(err)
	}
	s.BatchSize = 32
	if _, err := s.Forward(tokens, 0, false); err != nil {
		t.Fatal(err)
	}
	got0 := append([]float32(nil), want...)
	for _, tc := range []struct {
		name   string
		splits []int // block boundaries
		batch  int
	}{
		{"one range", []int{0, cfg.Layers}, 32},
		{"block by block", []int{0, 1, 2, 3, cfg.Layers}, 32},
		{"uneven, one batch", []int{0, 3, cfg.Layers}, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want = nil
			s2, err := m.NewSession(len(tokens))
			if err != nil {
				t.Fatal(err)
			}
			s2.BatchSize = tc.batch
			x := make([]float32, len(tokens)*cfg.Hidden)
			if err := s2.Embed(tokens, x); err != nil {
				t.Fatal(err)
			}
			for i := 0; i+1 < len(tc.splits); i++ {
				if err := s2.Blocks(x, 0, tc.splits[i], tc.splits[i+1]); err != nil {
					t.Fatal(err)
				}
			}
			for i := range x {
				if x[i] != got0[i] {
					t.Fatalf("hidden value %d: Blocks gave %g, Forward %g", i, x[i], got0[i])
				}
			}
		})
	}
}

func TestBlocksBadInput(t *testing.T) {
	cfg, _ := RandomConfig("tiny")
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteRandomModel(path, RandomModelOptions{Config: cfg, Type: gguf.TypeF32, Seed: 3}); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, _ := m.NewSession(8)
	h := cfg.Hidden
	for _, tc := range []struct {
		name string
		run  func() error
	}{
		{"blocks past the end", func() error { return s.Blocks(make([]float32, h), 0, 0, cfg.Layers+1) }},
		{"reversed range", func() error { return s.Blocks(make([]float32, h), 0, 2, 1) }},
		{"ragged rows", func() error { return s.Blocks(make([]float32, h+1), 0, 0, 1) }},
		{"past the context", func() error { return s.Blocks(make([]float32, 9*h), 0, 0, 1) }},
		{"position beyond the cache", func() error { return s.Blocks(make([]float32, h), 3, 0, 1) }},
		{"no positions", func() error { return s.Blocks(nil, 0, 0, 1) }},
		{"token out of range", func() error { return s.Embed([]int32{int32(cfg.VocabSize)}, make([]float32, h)) }},
		{"embedding buffer too short", func() error { return s.Embed([]int32{1, 2}, make([]float32, h)) }},
	} {
		if err := tc.run(); err == nil {
			t.Errorf("%s: no error", tc.name)
		}
	}
}
