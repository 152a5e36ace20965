package tokenizer

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

// benchText returns about 1 MB of English text: Tiny Shakespeare from ../shared.
func benchText(b *testing.B) string {
	raw, err := os.ReadFile(filepath.Join(sharedDir(b), "datasets", "tinyshakespeare.txt"))
	if err != nil {
		b.Skipf("benchmark text not available: %v", err)
	}
	return string(raw)
}

func benchVocab(b *testing.B, name string) {
	text := benchText(b)
	tok, err := Open(filepath.Join(sharedDir(b), "fixtures", "tokenizers", "ggml-vocab-"+name+".gguf"))
	if err != nil {
		b.Skipf("vocabulary not available: %v", err)
	}
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	cpu0 := processCPUTime()
	for b.Loop() {
		if _, err := tok.Encode(text, EncodeOptions{}); err != nil {
			b.Fatal(err)
		}
	}
	reportCPUThroughput(b, cpu0, len(text))
}

// reportCPUThroughput adds "MB/cpu-s": bytes per second of process CPU time (GC included).
// The benchmarks run on one goroutine, so on a loaded machine this is the figure to compare.
func reportCPUThroughput(b *testing.B, cpu0 time.Duration, n int) {
	cpu := processCPUTime() - cpu0
	if cpu > 0 && b.N > 0 {
		b.ReportMetric(float64(n)*float64(b.N)/1e6/cpu.Seconds(), "MB/cpu-s")
	}
}

func BenchmarkEncodeLlamaSPM(b *testing.B)      { benchVocab(b, "llama-spm") }
func BenchmarkEncodeGPT2(b *testing.B)          { benchVocab(b, "gpt-2") }
func BenchmarkEncodeStarcoder(b *testing.B)     { benchVocab(b, "starcoder") }
func BenchmarkEncodeFalcon(b *testing.B)        { benchVocab(b, "falcon") }
func BenchmarkEncodeDeepseekLLM(b *testing.B)   { benchVocab(b, "deepseek-llm") }
func BenchmarkEncodeDeepseekCoder(b *testing.B) { benchVocab(b, "deepseek-coder") }

func BenchmarkDecodeGPT2(b *testing.B) {
	text := benchText(b)
	tok, err := Open(filepath.Join(sharedDir(b), "fixtures", "tokenizers", "ggml-vocab-gpt-2.gguf"))
	if err != nil {
		b.Skipf("vocabulary not available: %v", err)
	}
	ids, err := tok.Encode(text, EncodeOptions{})
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(text)))
	b.ResetTimer()
	cpu0 := processCPUTime()
	for b.Loop() {
		_ = tok.Decode(ids)
	}
	reportCPUThroughput(b, cpu0, len(text))
}

func BenchmarkOpenGPT2(b *testing.B) {
	path := filepath.Join(sharedDir(b), "fixtures", "tokenizers", "ggml-vocab-gpt-2.gguf")
	for b.Loop() {
		if _, err := Open(path); err != nil {
			b.Skip(err)
		}
	}
}
