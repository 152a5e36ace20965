package tokenizer

import (
	"slices"
	"sync"
	"testing"
)

// TestConcurrentEncode runs Encode from several goroutines on one tokenizer (run with -race).
func TestConcurrentEncode(t *testing.T) {
	toks := []*Tokenizer{
		mustTokenizer(t, spmMeta(testSPMPieces(piece{"<|im_end|>", 0, typeControl}))),
		mustTokenizer(t, testBPE.meta("deepseek-llm")),
	}
	texts := []string{"hello world", "the this is<|im_end|>", "東京 123 héllo", "  \n\n x"}
	for _, tok := range toks {
		want := make([][]int32, len(texts))
		for i, s := range texts {
			want[i], _ = tok.Encode(s, EncodeOptions{ParseSpecial: true})
		}
		var wg sync.WaitGroup
		errs := make(chan string, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for it := range 200 {
					i := (g + it) % len(texts)
					got, err := tok.Encode(texts[i], EncodeOptions{ParseSpecial: true})
					if err != nil || !slices.Equal(got, want[i]) {
						errs <- texts[i]
						return
					}
					_ = tok.Decode(got)
				}
			}()
		}
		wg.Wait()
		close(errs)
		for s := range errs {
			t.Errorf("%s: concurrent Encode(%q) differs", tok.Model(), s)
		}
	}
}
