package quantize

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// fixtureMixes are the llama-quantize outputs in shared/fixtures/shakespeare-llama/gguf, all
// made from teacher-F32.gguf without an importance matrix.
var fixtureMixes = []string{"Q8_0", "Q6_K", "Q5_K_M", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0", "Q3_K_M", "Q2_K"}

// TestMatchesLlamaQuantize quantizes teacher-F32.gguf to each fixture mix and requires the
// whole output file to equal llama-quantize's, byte for byte. On a mismatch it reports the
// first tensor whose type or bytes differ.
func TestMatchesLlamaQuantize(t *testing.T) {
	dir := filepath.Join(llamaDir(t), "gguf")
	in := filepath.Join(dir, "teacher-F32.gguf")
	out := t.TempDir()
	for _, name := range fixtureMixes {
		t.Run(name, func(t *testing.T) {
			mix, err := ParseMix(name)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(out, name+".gguf")
			sum, err := QuantizeFile(context.Background(), in, path, Options{Mix: mix})
			if err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(filepath.Join(dir, "teacher-"+name+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			if sum.FileBytes != int64(len(got)) {
				t.Errorf("summary says %d bytes, file has %d", sum.FileBytes, len(got))
			}
			if bytes.Equal(got, want) {
				return
			}
			t.Errorf("output (%d bytes) differs from llama-quantize's (%d bytes)", len(got), len(want))
			explainDiff(t, got, want)
		})
	}
}

// explainDiff reports the first metadata or tensor difference between two GGUF files.
func explainDiff(t *testing.T, got, want []byte) {
	t.Helper()
	g, err := gguf.Parse(got)
	if err != nil {
		t.Fatalf("ours does not parse: %v", err)
	}
	w, err := gguf.Parse(want)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Metadata) != len(w.Metadata) {
		t.Errorf("%d metadata keys, want %d", len(g.Metadata), len(w.Metadata))
	}
	for i := 0; i < min(len(g.Metadata), len(w.Metadata)); i++ {
		if g.Metadata[i].Key != w.Metadata[i].Key {
			t.Errorf("metadata %d is %q, want %q", i, g.Metadata[i].Key, w.Metadata[i].Key)
			break
		}
	}
	if len(g.Tensors) != len(w.Tensors) {
		t.Fatalf("%d tensors, want %d", len(g.Tensors), len(w.Tensors))
	}
	for i := range g.Tensors {
		gt, wt := g.Tensors[i], w.Tensors[i]
		if gt.Name != wt.Name || gt.Type != wt.Type {
			t.Errorf("tensor %d: %s %s, want %s %s", i, gt.Name, gt.Type, wt.Name, wt.Type)
			continue
		}
		if !bytes.Equal(g.TensorData(i), w.TensorData(i)) {
			t.Errorf("tensor %s (%s): data differ", gt.Name, gt.Type)
		}
	}
}
