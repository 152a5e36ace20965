package quantize

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
)

// TestHFSourceMatchesLlamaQuantize quantizes the fixture's Hugging Face folder directly and
// expects llama-quantize's file made from llama.cpp's F32 conversion of the same folder.
func TestHFSourceMatchesLlamaQuantize(t *testing.T) {
	shared := sharedDir(t)
	hf := filepath.Join(shared, "fixtures", "shakespeare-llama", "hf")
	for _, mixName := range []string{"Q4_K_M", "Q8_0"} {
		t.Run(mixName, func(t *testing.T) {
			want, err := os.ReadFile(filepath.Join(shared, "fixtures", "shakespeare-llama", "gguf", "teacher-"+mixName+".gguf"))
			if err != nil {
				t.Fatal(err)
			}
			src, err := OpenHF(hf, 0)
			if err != nil {
				t.Fatal(err)
			}
			defer src.Close()
			// llama.cpp named the model after its folder ("teacher-hf" -> "Teacher Hf"); ours is "hf".
			src.src.Metadata.Set("general.name", "Teacher Hf")
			mix, err := ParseMix(mixName)
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if _, err := Write(context.Background(), src, &buf, Options{Mix: mix}); err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(buf.Bytes(), want) {
				t.Fatalf("HF folder -> %s differs from llama-quantize's file (%d vs %d bytes)", mixName, buf.Len(), len(want))
			}
		})
	}
}

func TestOpenHFErrors(t *testing.T) {
	if _, err := OpenHF(t.TempDir(), 0); err == nil {
		t.Fatal("empty folder: want error")
	}
}
