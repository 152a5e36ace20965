package tokenizer

import (
	"runtime"

	"github.com/mcompress/mcompress/internal/parallel"
)

// parallelMin is the fragment size in bytes from which Encode spreads the merging of words (or
// SentencePiece runs) over GOMAXPROCS goroutines. Pre-tokenization stays sequential; the pieces
// are cut into contiguous chunks and their tokens joined in order, so the result is the same
// whatever the number of goroutines.
var parallelMin = 256 << 10

// spread runs work over the items [0, n), in one call below parallelMin bytes or with one
// goroutine, else in contiguous chunks on several goroutines, each with its own scratch space,
// and appends the results to out in item order. The first error in item order wins.
func (t *Tokenizer) spread(size, n int, out []int32, sc *scratch, work func(lo, hi int, sc *scratch, out []int32) ([]int32, error)) ([]int32, error) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if size < parallelMin || workers < 2 {
		return work(0, n, sc, out)
	}
	type result struct {
		ids []int32
		err error
	}
	res := make([]result, workers)
	parallel.Split(workers, n, func(w, lo, hi int) {
		if w == 0 {
			res[0].ids, res[0].err = work(lo, hi, sc, out)
			return
		}
		wsc := t.getScratch()
		defer t.putScratch(wsc)
		res[w].ids, res[w].err = work(lo, hi, wsc, make([]int32, 0, (hi-lo)*2))
	})
	out = res[0].ids
	for _, r := range res {
		if r.err != nil {
			return nil, r.err
		}
	}
	for _, r := range res[1:] {
		out = append(out, r.ids...)
	}
	return out, nil
}
