package datasets

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/parquet/compress"
)

// benchCorpus returns n stories of about 200 bytes.
func benchCorpus(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf("Story %d: once upon a time %s there was a little girl who wanted to explore the world. She asked her parents if she could have a passport. Her excited parents said yes.", i, strings.Repeat("very ", i%7))
	}
	return out
}

func benchRead(b *testing.B, path string, opts Options) {
	st, err := os.Stat(path)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(st.Size())
	b.ReportAllocs()
	for b.Loop() {
		r, err := Open(path, opts)
		if err != nil {
			b.Fatal(err)
		}
		n := 0
		for _, err := range Records(r) {
			if err != nil {
				b.Fatal(err)
			}
			n++
		}
		r.Close()
		b.ReportMetric(float64(n), "rows/op")
	}
}

// BenchmarkReadParquet reads 20000 stories from a zstd Parquet file (1000-row row groups).
func BenchmarkReadParquet(b *testing.B) {
	var batches []arrow.RecordBatch
	c := benchCorpus(20000)
	for i := 0; i < len(c); i += 1000 {
		batches = append(batches, textRecord(c[i:i+1000]...))
	}
	p := writeFile(b, filepath.Join(b.TempDir(), "s.parquet"), parquetBytes(b, textSchema, batches, 1000, compress.Codecs.Zstd))
	benchRead(b, p, Options{})
}

// BenchmarkReadArrowStream reads the same stories from an IPC stream.
func BenchmarkReadArrowStream(b *testing.B) {
	var batches []arrow.RecordBatch
	c := benchCorpus(20000)
	for i := 0; i < len(c); i += 1000 {
		batches = append(batches, textRecord(c[i:i+1000]...))
	}
	data, _ := arrowBytes(b, textSchema, batches, true)
	p := writeFile(b, filepath.Join(b.TempDir(), "s.arrow"), data)
	benchRead(b, p, Options{})
}

// BenchmarkReadJSONL reads the same stories as JSON Lines.
func BenchmarkReadJSONL(b *testing.B) {
	var sb strings.Builder
	for i, s := range benchCorpus(20000) {
		fmt.Fprintf(&sb, "{\"id\": %d, \"text\": %q}\n", i, s)
	}
	p := writeFile(b, filepath.Join(b.TempDir(), "s.jsonl"), []byte(sb.String()))
	benchRead(b, p, Options{})
}

// BenchmarkReadWikitextFixture reads the shared snappy/page-v2 Parquet fixture.
func BenchmarkReadWikitextFixture(b *testing.B) {
	benchRead(b, filepath.Join(parquetFixtures(b), "wikitext-snappy-v2.parquet"), Options{})
}

// BenchmarkPack tokenizes (byte tokenizer) and packs 20000 stories into 512-token sequences.
func BenchmarkPack(b *testing.B) {
	var sb strings.Builder
	for _, s := range benchCorpus(20000) {
		sb.WriteString(s + "\n")
	}
	p := writeFile(b, filepath.Join(b.TempDir(), "s.txt"), []byte(sb.String()))
	b.SetBytes(int64(sb.Len()))
	for b.Loop() {
		r, err := Open(p, Options{TextMode: TextLines})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Pack(context.Background(), r, tok, PackOptions{SeqLen: 512, BOS: true, EOS: true}); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
