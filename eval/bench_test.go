package eval

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/runtime"
)

// BenchmarkPerplexity measures perplexity throughput (text tokens per second) on the fixture's
// valid.txt with n_ctx 256, 20 chunks per iteration, for a few storage types, on one thread and
// on every core.
func BenchmarkPerplexity(b *testing.B) {
	dir := fixtureDir(b)
	text, err := os.ReadFile(filepath.Join(dir, "valid.txt"))
	if err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		typ     string
		threads int
	}{{"F32", 1}, {"F32", 0}, {"F16", 1}, {"F16", 0}, {"Q8_0", 1}, {"Q8_0", 0}, {"Q4_K_M", 1}, {"Q4_K_M", 0}, {"Q4_0", 1}, {"Q4_0", 0}} {
		name := c.typ + "/threads=all"
		if c.threads > 0 {
			name = fmt.Sprintf("%s/threads=%d", c.typ, c.threads)
		}
		b.Run(name, func(b *testing.B) {
			m, err := runtime.Load(filepath.Join(dir, "gguf", "teacher-"+c.typ+".gguf"), runtime.Options{Threads: c.threads})
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
