package convert

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
