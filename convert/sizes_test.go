package convert

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestCountsAgainstTensors: the counts of config.json that size the output (layers, vocabulary,
// hidden size, heads) are checked against the tensors the checkpoint holds before anything is
// allocated from them. num_hidden_layers 2147483647 used to be written into a file that crashed
// the runtime, and vocab_size 2^31-1 padded the vocabulary until the process ran out of memory.
// Each is a bad-input error naming config.json and the problem, and leaves no file behind.
func TestCountsAgainstTensors(t *testing.T) {
	cases := []struct {
		name string
		edit func(m map[string]any)
		want []string
	}{
		{"layers 2^31-1", func(m map[string]any) { m["num_hidden_layers"] = 2147483647 },
			[]string{"num_hidden_layers is 2147483647", "tensors for 1 layers", "none for layer 1"}},
		{"one layer too many", func(m map[string]any) { m["num_hidden_layers"] = 2 },
			[]string{"num_hidden_layers is 2", "none for layer 1"}},
		{"vocab 2^31-1", func(m map[string]any) { m["vocab_size"] = 2147483647 },
			[]string{"vocab_size is 2147483647", "model.embed_tokens.weight has 300 rows"}},
		{"vocab 1e8", func(m map[string]any) { m["vocab_size"] = 100000000 },
			[]string{"vocab_size is 100000000", "300 rows"}},
		{"vocab one more than the embedding", func(m map[string]any) { m["vocab_size"] = 301 },
			[]string{"vocab_size is 301", "300 rows"}},
		{"vocab smaller than the embedding", func(m map[string]any) { m["vocab_size"] = 299 },
			[]string{"vocab_size is 299", "300 rows"}},
		{"hidden size", func(m map[string]any) { m["hidden_size"] = 64 },
			[]string{"hidden_size is 64", "model.embed_tokens.weight has shape [300 32]"}},
		{"head dim 2^30", func(m map[string]any) {
			m["head_dim"] = 1 << 30
			m["rope_scaling"] = map[string]any{"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
				"high_freq_factor": 4.0, "original_max_position_embeddings": 8192}
		}, []string{"num_attention_heads 2 × head dimension 1073741824", "q_proj.weight has shape [32 32]"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "model")
			tinyLlama.write(t, dir)
			editConfig(t, dir, c.edit)
			outDir := t.TempDir()
			_, err := Convert(context.Background(), dir, filepath.Join(outDir, "out.gguf"), Options{})
			if err == nil {
				t.Fatal("accepted")
			}
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("error does not wrap ErrBadInput: %v", err)
			}
			for _, w := range append([]string{filepath.Join(dir, "config.json")}, c.want...) {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not mention %q", err, w)
				}
			}
			if ents, _ := os.ReadDir(outDir); len(ents) != 0 {
				t.Errorf("files left in the output folder: %v", ents)
			}
		})
	}
}

// TestVocabPaddingToEmbedding: a vocab_size above the tokenizer's size is the padding llama.cpp
// does ([PADn] tokens), accepted because the embedding has vocab_size rows (tinyLlama's
// tokenizer.model has 4 pieces fewer than its 300 rows).
func TestVocabPaddingToEmbedding(t *testing.T) {
	f, _ := convertSynth(t, tinyLlama, "padded", Options{})
	toks, _ := f.Metadata.Strings("tokenizer.ggml.tokens")
	if len(toks) != tinyLlama.vocab || toks[len(toks)-1] != "[PAD299]" {
		t.Fatalf("%d tokens ending in %q, want %d ending in [PAD299]", len(toks), toks[len(toks)-1], tinyLlama.vocab)
	}
}

// setGGUFUint32 returns a GGUF file's bytes with the uint32 value of the metadata key replaced,
// as a corrupted or hostile header would carry it.
func setGGUFUint32(t *testing.T, data []byte, key string, v uint32) []byte {
	t.Helper()
	pat := binary.LittleEndian.AppendUint64(nil, uint64(len(key)))
	pat = append(pat, key...)
	i := bytes.Index(data, pat)
	if i < 0 {
		t.Fatalf("key %q not in the file", key)
	}
	off := i + len(pat)
	if gguf.ValueType(binary.LittleEndian.Uint32(data[off:])) != gguf.ValueUint32 {
		t.Fatalf("key %q is not a uint32", key)
	}
	out := bytes.Clone(data)
	binary.LittleEndian.PutUint32(out[off+4:], v)
	return out
}

// TestToHFChecksCounts: a GGUF file whose metadata claims more layers or a larger vocabulary
// than its tensors hold is refused before anything is written, instead of exporting a
// config.json that converts back into the same crash.
func TestToHFChecksCounts(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "model")
	tinyLlama.write(t, dir)
	good := filepath.Join(t.TempDir(), "good.gguf")
	if _, err := Convert(context.Background(), dir, good, Options{OutType: OutF32}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		key  string
		v    uint32
		want string
	}{
		{"llama.vocab_size", 2147483647, "llama.vocab_size is 2147483647 but token_embd.weight has 300 rows"},
		{"llama.vocab_size", 301, "llama.vocab_size is 301"},
		{"llama.block_count", 1 << 31, "llama.block_count is 2147483648 but there are tensors for 1 layers"},
		{"llama.embedding_length", 64, "llama.embedding_length is 64 but token_embd.weight has shape [32 300]"},
	} {
		path := filepath.Join(t.TempDir(), "bad.gguf")
		if err := os.WriteFile(path, setGGUFUint32(t, data, c.key, c.v), 0o644); err != nil {
			t.Fatal(err)
		}
		out := filepath.Join(t.TempDir(), "hf")
		_, err := ToHF(context.Background(), path, out, HFOptions{})
		if err == nil {
			t.Errorf("%s %d: exported", c.key, c.v)
			continue
		}
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s %d: error %q does not wrap ErrBadInput or name the file and %q", c.key, c.v, err, c.want)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("%s %d: output folder created", c.key, c.v)
		}
	}
}

// TestInspectNamesPromisedFormat: a 0-byte or foreign file named .gguf is reported as a broken
// GGUF file (it used to get a safetensors error), one named .safetensors as a broken safetensors
// file, and a real GGUF file is read whatever its name.
func TestInspectNamesPromisedFormat(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.gguf")
	if err := gguf.WriteFile(good, gguf.Metadata{{Key: "general.name", Value: "x"}}, nil, func(*gguf.Writer) error { return nil }); err != nil {
		t.Fatal(err)
	}
	goodBytes, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		data []byte
		want []string // empty: accepted
	}{
		{"empty.gguf", nil, []string{"GGUF", "0 bytes"}},
		{"text.gguf", []byte("hello\n"), []string{"not a GGUF file", `magic "hell"`}},
		{"upper.GGUF", []byte("PK\x03\x04...."), []string{"not a GGUF file"}},
		{"empty.safetensors", nil, []string{"safetensors", "0 bytes"}},
		{"text.safetensors", []byte("hello\n"), []string{"safetensors", "6 bytes"}},
		{"gguf-named.safetensors", goodBytes, nil},
	} {
		p := filepath.Join(dir, c.name)
		if err := os.WriteFile(p, c.data, 0o644); err != nil {
			t.Fatal(err)
		}
		r, err := Inspect(p)
		if c.want == nil {
			if err != nil || r.Format != "gguf" {
				t.Errorf("%s: %v, format %v", c.name, err, r)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: accepted", c.name)
			continue
		}
		if !errors.Is(err, ErrBadInput) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q does not wrap ErrBadInput or name the file", c.name, err)
		}
		for _, w := range c.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: error %q does not mention %q", c.name, err, w)
			}
		}
		if strings.HasSuffix(strings.ToLower(c.name), ".gguf") && strings.Contains(err.Error(), "safetensors") {
			t.Errorf("%s: error %q speaks of safetensors", c.name, err)
		}
	}
}
