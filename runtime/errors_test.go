package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
)

// TestErrBadInput checks that failures caused by the caller's file, tensors or options wrap
// ErrBadInput and that misuse inside a session does not.
func TestErrBadInput(t *testing.T) {
	cfg := tinyConfig("llama")
	dir := t.TempDir()
	notGGUF := filepath.Join(dir, "x.gguf")
	if err := os.WriteFile(notGGUF, []byte("not a model at all, just text"), 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := FromTensors(cfg, randomTensors(cfg, 1), nil, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(16)
	if err != nil {
		t.Fatal(err)
	}
	missing := randomTensors(cfg, 1)
	delete(missing, "output_norm.weight")
	tests := []struct {
		name string
		run  func() error
		bad  bool
	}{
		{"missing file", func() error { _, err := Load(filepath.Join(dir, "none.gguf"), Options{}); return err }, true},
		{"not GGUF", func() error { _, err := Load(notGGUF, Options{}); return err }, true},
		{"missing tensor", func() error { _, err := FromTensors(cfg, missing, nil, Options{Threads: 1}); return err }, true},
		{"negative context", func() error { _, err := m.NewSession(-1); return err }, true},
		{"huge context", func() error { _, err := m.NewSession(1 << 30); return err }, true},
		{"sampler top-p", func() error { _, err := NewSampler(SamplerOptions{TopP: 2}); return err }, true},
		{"token out of range (caller's bug)", func() error { _, err := s.Forward([]int32{int32(cfg.VocabSize)}, 0, false); return err }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("no error")
			}
			if got := errors.Is(err, ErrBadInput); got != tc.bad {
				t.Errorf("errors.Is(%v, ErrBadInput) = %v, want %v", err, got, tc.bad)
			}
		})
	}
}
