package runtime

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// benchModel measures pp512 (one batch of 512 tokens from an empty cache) and tg128 (128
// tokens one at a time) as llama-bench does, reporting tokens/s.
func benchModel(b *testing.B, path string) {
	m, err := Load(path, Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer m.Close()
	b.Run("pp512", func(b *testing.B) {
		var tps float64
		for b.Loop() {
			r, err := Bench(m, BenchOptions{Prompt: 512, Reps: 1})
			if err != nil {
				b.Fatal(err)
			}
			tps = r[0].Mean
		}
		b.ReportMetric(tps, "tokens/s")
	})
	b.Run("tg128", func(b *testing.B) {
		var tps float64
		for b.Loop() {
			r, err := Bench(m, BenchOptions{Gen: 128, Reps: 1})
			if err != nil {
				b.Fatal(err)
			}
			tps = r[0].Mean
		}
		b.ReportMetric(tps, "tokens/s")
	})
}

// BenchmarkFixture measures the shakespeare-llama fixture (4.2M parameters) in F16, Q8_0
// and Q4_K_M.
func BenchmarkFixture(b *testing.B) {
	dir := fixtureDir(b)
	for _, typ := range []string{"F16", "Q8_0", "Q4_K_M"} {
		b.Run(typ, func(b *testing.B) { benchModel(b, filepath.Join(dir, "gguf", "teacher-"+typ+".gguf")) })
	}
}

var random1B = struct {
	once sync.Once
	dir  string
}{}

// BenchmarkRandom1B measures a llama model of TinyLlama-1.1B's shape with random weights in
// F16, Q8_0 and Q4_K_M, written to a temporary folder on first use (about 4 GB in all) and
// removed when the benchmarks end. MCOMPRESS_BENCH_1B_DIR names a folder to keep them in
// instead (written there if missing, never removed), so that repeated runs skip the writing.
// Skipped under -short.
func BenchmarkRandom1B(b *testing.B) {
	if testing.Short() {
		b.Skip("writes 4 GB of random models")
	}
	cfg, err := RandomConfig("1b")
	if err != nil {
		b.Fatal(err)
	}
	dir := os.Getenv("MCOMPRESS_BENCH_1B_DIR")
	random1B.once.Do(func() {
		if dir == "" {
			random1B.dir, err = os.MkdirTemp("", "mcompress-1b-")
			dir = random1B.dir
		}
	})
	if dir == "" {
		dir = random1B.dir
	}
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name  string
		typ   gguf.TensorType
		mixed bool
	}{{"F16", gguf.TypeF16, false}, {"Q8_0", gguf.TypeQ8_0, false}, {"Q4_K_M", gguf.TypeQ4_K, true}} {
		b.Run(c.name, func(b *testing.B) {
			path := filepath.Join(dir, fmt.Sprintf("random-1b-%s.gguf", c.name))
			if _, err := os.Stat(path); err != nil {
				if err := WriteRandomModel(path, RandomModelOptions{Config: cfg, Type: c.typ, Mixed: c.mixed, Seed: 1}); err != nil {
					b.Fatal(err)
				}
			}
			benchModel(b, path)
		})
	}
}

func TestMain(m *testing.M) {
	code := m.Run()
	if random1B.dir != "" {
		os.RemoveAll(random1B.dir)
	}
	os.Exit(code)
}
