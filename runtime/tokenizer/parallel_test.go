package tokenizer

import (
	"math/rand/v2"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestParallelSameIDs checks that spreading the work over goroutines changes nothing.
func TestParallelSameIDs(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 8))
	words := []string{"the", "this", "is", "hello", "world", "aaa", "hé", "東京", "123", "'s", "\n", "  ", ".", "\xff", "<s>", "<|im_end|>", "🦙"}
	var b strings.Builder
	for b.Len() < 200_000 {
		b.WriteString(words[r.IntN(len(words))])
		if r.IntN(3) > 0 {
			b.WriteByte(' ')
		}
	}
	text := b.String()
	toks := []*Tokenizer{
		mustTokenizer(t, spmMeta(testSPMPieces(piece{"<|im_end|>", 0, typeControl}))),
		mustTokenizer(t, testBPE.meta("gpt-2")),
		mustTokenizer(t, testBPE.meta("deepseek-llm")),
		mustTokenizer(t, testBPE.meta("llama-bpe")),
	}
	if !testing.Short() {
		if dir, _ := findShared(); dir != "" {
			for _, name := range []string{"llama-spm", "gpt-2", "falcon"} {
				if tok, err := Open(filepath.Join(dir, "fixtures", "tokenizers", "ggml-vocab-"+name+".gguf")); err == nil {
					toks = append(toks, tok)
				}
			}
		}
	}
	defer func(p, m int) { runtime.GOMAXPROCS(p); parallelMin = m }(runtime.GOMAXPROCS(4), parallelMin)
	for _, tok := range toks {
		for _, opts := range []EncodeOptions{{}, {AddSpecial: true, ParseSpecial: true}} {
			parallelMin = 1 << 40
			seq, err := tok.Encode(text, opts)
			if err != nil {
				t.Fatal(err)
			}
			parallelMin = 1
			par, err := tok.Encode(text, opts)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(seq, par) {
				t.Fatalf("%s %s: parallel encoding differs (%d vs %d tokens)", tok.Model(), tok.Pre(), len(par), len(seq))
			}
		}
	}
}
