package runtime

import (
	"os"
	"path/filepath"
	"testing"
)

// FuzzLoad feeds arbitrary bytes to Load as a GGUF file: it must return an error or a model
// whose one-token forward pass works, never panic. The seed corpus in testdata/fuzz/FuzzLoad
// holds a tiny valid model.
func FuzzLoad(f *testing.F) {
	f.Add([]byte("GGUF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		path := filepath.Join(t.TempDir(), "m.gguf")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(path, Options{Threads: 1})
		if err != nil {
			return
		}
		defer m.Close()
		if m.Config().Hidden*m.Config().Layers > 1<<16 {
			return // too large to evaluate quickly
		}
		s, err := m.NewSession(4)
		if err != nil {
			return
		}
		if _, err := s.Forward([]int32{0}, 0, false); err != nil {
			t.Fatalf("valid model failed to run: %v", err)
		}
	})
}
