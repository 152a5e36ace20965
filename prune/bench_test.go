package prune

import (
	"context"
	"os"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
)

// BenchmarkPrune1B prunes a llama model of TinyLlama-1.1B's shape with random F16 weights to
// 50% with Wanda and SparseGPT, calibrated on 64 sequences of 512 tokens (issue 12, item 7:
// on 2 cores, Wanda well under 2 minutes, SparseGPT under 10; peak memory about the model in
// float32 plus one block's Hessians). The model (2.2 GB) is written to a temporary folder, or
// to MCOMPRESS_BENCH_1B_DIR when set (kept there for later runs). Each iteration loads the
// model afresh (not timed). Skipped under -short.
func BenchmarkPrune1B(b *testing.B) {
	if testing.Short() {
		b.Skip("writes a 2.2 GB model and prunes it")
	}
	cfg, err := runtime.RandomConfig("1b")
	if err != nil {
		b.Fatal(err)
	}
	dir := os.Getenv("MCOMPRESS_BENCH_1B_DIR")
	if dir == "" {
		dir = b.TempDir()
	}
	path := filepath.Join(dir, "random-1b-F16.gguf")
	if _, err := os.Stat(path); err != nil {
		if err := runtime.WriteRandomModel(path, runtime.RandomModelOptions{Config: cfg, Type: gguf.TypeF16, Seed: 1}); err != nil {
			b.Fatal(err)
		}
	}
	seqs := calibSeqs(64, 512, cfg.VocabSize)
	for _, method := range []Method{MethodWanda, MethodSparseGPT} {
		b.Run(string(method), func(b *testing.B) {
			for range b.N {
				b.StopTimer()
				fm, err := LoadFloat(path)
				if err != nil {
					b.Fatal(err)
				}
				debug.FreeOSMemory()
				b.StartTimer()
				if _, err := PruneModel(context.Background(), fm, seqs, UnstructuredOptions{Method: method, Sparsity: 0.5}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
