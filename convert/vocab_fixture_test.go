package convert

import (
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestVocabFixturesRoundTrip rebuilds the Hugging Face tokenizer files from llama.cpp's own
// vocabulary files (GPT-2's byte-level BPE with 50,000 merges, Llama's SentencePiece) and reads
// them back the way conversion does: tokens, scores, types, merges, pre-tokenizer name and
// special ids must come back unchanged.
func TestVocabFixturesRoundTrip(t *testing.T) {
	dir := filepath.Join(sharedDir(t), "fixtures", "tokenizers")
	keys := []string{"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.scores",
		"tokenizer.ggml.token_type", "tokenizer.ggml.merges", "tokenizer.ggml.bos_token_id", "tokenizer.ggml.eos_token_id",
		"tokenizer.ggml.unknown_token_id", "tokenizer.ggml.padding_token_id", "tokenizer.ggml.add_bos_token",
		"tokenizer.ggml.add_eos_token"}
	for _, name := range []string{"ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-spm.gguf"} {
		t.Run(name, func(t *testing.T) {
			f, err := gguf.Open(filepath.Join(dir, name))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			toks, _ := f.Metadata.Strings("tokenizer.ggml.tokens")
			c := Config{VocabSize: len(toks), ContextLength: 1024}
			files, notes, err := hfTokenizerFiles(f.Metadata, c)
			if err != nil || len(notes) != 0 {
				t.Fatalf("%v %v", err, notes)
			}
			out := t.TempDir()
			for n, b := range files {
				os.WriteFile(filepath.Join(out, n), b, 0o644)
			}
			cfg := map[string]any{}
			for _, typ := range specialTypes {
				if v, ok := f.Metadata.Uint(specialIDKeys[typ]); ok {
					cfg[typ+"_token_id"] = v
				}
			}
			writeJSON(t, filepath.Join(out, "config.json"), cfg)
			md := &mdBuilder{}
			if m, _ := f.Metadata.String("tokenizer.ggml.model"); m == "llama" {
				err = spmVocab(md, out, c)
			} else {
				err = gpt2Vocab(md, out, c, Options{})
			}
			if err != nil {
				t.Fatal(err)
			}
			for _, k := range keys {
				want, inFile := f.Metadata.Lookup(k)
				got, inOurs := md.md.Lookup(k)
				if inFile != inOurs || !reflect.DeepEqual(got, want) {
					t.Errorf("%s: got %.60v (%v), want %.60v (%v)", k, got, inOurs, want, inFile)
				}
			}
		})
	}
}
