package quantize

import (
	"context"
	"io"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/mmap"
)

// TestGGUFSourceReleasesPages quantizes a memory-mapped GGUF file and checks that afterwards
// the input mapping holds about one tensor in the resident set, not the whole file (llama-quantize
// reads one tensor at a time; keeping the map resident tripled our peak RSS on a 1B model).
func TestGGUFSourceReleasesPages(t *testing.T) {
	mem := newLlamaSource(llamaShape{layers: 3, hidden: 512, heads: 8, kvHeads: 2, ffn: 1024, vocab: 256}, 5)
	path := filepath.Join(t.TempDir(), "in.gguf")
	err := gguf.WriteFile(path, mem.md, mem.infos, func(w *gguf.Writer) error {
		for i, ti := range mem.infos {
			if err := w.WriteTensor(ti.Name, mem.data[i]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	var total, largest int64
	for _, ti := range mem.infos {
		total += int64(ti.Size())
		largest = max(largest, int64(ti.Size()))
	}
	for _, mix := range []string{"Q8_0", "Q4_K_M"} {
		t.Run(mix, func(t *testing.T) {
			src, err := OpenGGUF(path)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			if _, err := Write(context.Background(), src, io.Discard, Options{Mix: mustMix(t, mix), Threads: 2}); err != nil {
				t.Fatal(err)
			}
			res, err := mmap.Resident(src.File.TensorData(0))
			if err != nil {
				t.Skip(err)
			}
			// The last tensor may stay, plus the header, the pages tensors share at their edges
			// and the kernel's fault-around (up to 64 KiB mapped around a fault).
			if limit := largest + int64(2*len(mem.infos))*4096 + 128<<10; res > limit {
				t.Errorf("%d of %d input bytes still resident after quantizing, want at most %d", res, total, limit)
			}
		})
	}
}
