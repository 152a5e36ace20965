package eval

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/runtime"
)

// BenchmarkPerplexity measures perplexity throughput (text tokens per second) on the fixture's
// valid.txt with n_ctx 256, 20 chunks per iteration, for a few storage types.
func BenchmarkPerplexity(b *testing.B) {
	dir := fixtureDir(b)
	text, err := os.ReadFile(filepath.Join(dir, "valid.txt"))
	if err != nil {
		b.Fatal(err)
	}
	for _, typ := range []string{"F32", "F16", "Q8_0", "Q4_K_M", "Q4_0"} {
		b.Run(typ, func(b *testing.B) {
			m, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-"+typ+".gguf"), runtime.Options{})
			if err != nil {
				b.Fatal(err)
			}
			defer m.Close()
			tokens, err := Tokenize(m, string(text))
			if err != nil {
				b.Fatal(err)
			}
			const chunks = 20
			b.ResetTimer()
			cpu0 := cpuTime()
			for b.Loop() {
				if _, err := Perplexity(context.Background(), m, tokens, PerplexityOptions{Context: 256, MaxChunks: chunks}); err != nil {
					b.Fatal(err)
				}
			}
			b.ReportMetric(float64(chunks*256*b.N)/b.Elapsed().Seconds(), "tokens/s")
			if cpu := cpuTime() - cpu0; cpu > 0 {
				// Tokens per second of CPU time: what the run costs whatever else the machine
				// is doing; divide by the threads used for an idle machine's wall-clock rate.
				b.ReportMetric(float64(chunks*256*b.N)/cpu.Seconds(), "tokens/cpu-s")
			}
		})
	}
}
