package quantize

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
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

// TestOpenHFChecksCounts: quantizing a folder whose config.json claims more layers or a larger
// vocabulary than its tensors hold is an input error naming config.json, found before anything
// is allocated from the count (vocab_size 2^31-1 used to pad the vocabulary until the process
// ran out of memory).
func TestOpenHFChecksCounts(t *testing.T) {
	hf := filepath.Join(sharedDir(t), "fixtures", "shakespeare-llama", "hf")
	for _, c := range []struct{ key, want string }{
		{"vocab_size", "vocab_size is 2147483647"},
		{"num_hidden_layers", "num_hidden_layers is 2147483647"},
	} {
		dir := t.TempDir()
		ents, err := os.ReadDir(hf)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range ents {
			b, err := os.ReadFile(filepath.Join(hf, e.Name()))
			if err != nil {
				t.Fatal(err)
			}
			if e.Name() == "config.json" {
				var m map[string]any
				if err := json.Unmarshal(b, &m); err != nil {
					t.Fatal(err)
				}
				m[c.key] = 2147483647
				if b, err = json.Marshal(m); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.WriteFile(filepath.Join(dir, e.Name()), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		src, err := OpenHF(dir, 1)
		if err == nil {
			src.Close()
			t.Fatalf("%s 2147483647: accepted", c.key)
		}
		if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "config.json") || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s 2147483647: error %v does not wrap ErrInvalidInput or name config.json and %q", c.key, err, c.want)
		}
	}
}
