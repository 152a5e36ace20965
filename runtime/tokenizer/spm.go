package tokenizer

import "fmt"

// symbol is a piece of a word during merging: bytes [start, start+n) of the text, linked to its
// neighbours. n == 0 marks a symbol merged into its left neighbour.
type symbol struct {
	start, n   int32
	prev, next int32
	sym        int32 // BPE symbol id (unused by SentencePiece)
}

// spmBigram is a candidate merge of two adjacent symbols whose concatenation is a token.
type spmBigram struct {
	left, right int32
	score       float32
	size        int32
}

// spmQueue is a max-heap on score, then min on left position (llm_bigram_spm's order).
type spmQueue []spmBigram

func (q spmQueue) less(i, j int) bool {
	if q[i].score != q[j].score {
		return q[i].score > q[j].score
	}
	return q[i].left < q[j].left
}

func (q *spmQueue) push(b spmBigram) {
	*q = append(*q, b)
	h := *q
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !h.less(i, p) {
			break
		}
		h[i], h[p] = h[p], h[i]
		i = p
	}
}

func (q *spmQueue) pop() spmBigram {
	h := *q
	top := h[0]
	last := len(h) - 1
	h[0] = h[last]
	h = h[:last]
	i := 0
	for {
		l := 2*i + 1
		if l >= len(h) {
			break
		}
		m := l
		if r := l + 1; r < len(h) && h.less(r, l) {
			m = r
		}
		if !h.less(m, i) {
			break
		}
		h[i], h[m] = h[m], h[i]
		i = m
	}
	*q = h
	return top
}

// encodeSPM runs llama.cpp's SentencePiece merge loop over text (spaces already escaped): start
// from UTF-8 characters, repeatedly merge the adjacent pair that forms the highest-scoring
// token, then emit each piece as its token or, failing that, as byte tokens.
//
// llama.cpp runs one merge loop over the whole text. Here the text is first cut between two
// characters that are never next to each other inside any token (see buildPairs): no merge can
// cross such a cut, and within each run the merge order is unchanged, so the result is the
// same while each priority queue stays small, and repeated runs (words) come from a cache.
func (t *Tokenizer) encodeSPM(text string, out []int32, sc *scratch) ([]int32, error) {
	bounds := sc.bounds[:0]
	prevCls := uint8(pairOther)
	for off := 0; off < len(text); {
		n := min(utf8SeqLen(text[off]), len(text)-off)
		cls := t.pairClass(text[off : off+n])
		if off == 0 || t.canCut(prevCls, cls) {
			bounds = append(bounds, int32(off))
		}
		prevCls = cls
		off += n
	}
	bounds = append(bounds, int32(len(text)))
	sc.bounds = bounds
	return t.spread(len(text), len(bounds)-1, out, sc, func(lo, hi int, sc *scratch, out []int32) ([]int32, error) {
		var err error
		for r := lo; r < hi; r++ {
			if out, err = t.spmRun(text[bounds[r]:bounds[r+1]], out, sc); err != nil {
				return nil, err
			}
		}
		return out, nil
	})
}

// spmRun merges one run of the text (no token spans its ends) and appends its tokens.
func (t *Tokenizer) spmRun(run string, out []int32, sc *scratch) ([]int32, error) {
	if ids, ok := sc.cache.get(run); ok {
		return append(out, ids...), nil
	}
	syms := sc.syms[:0]
	for off := 0; off < len(run); {
		n := min(utf8SeqLen(run[off]), len(run)-off)
		syms = append(syms, symbol{start: int32(off), n: int32(n)})
		off += n
	}
	sc.syms = syms[:0]
	first := len(out)
	t.mergeSPM(run, syms, sc)
	out, err := t.emitSPM(run, syms, out)
	if err != nil {
		return nil, err
	}
	sc.cache.put(run, out[first:])
	return out, nil
}

// mergeSPM merges a run of symbols in place; prev/next are indices within the run.
func (t *Tokenizer) mergeSPM(text string, syms []symbol, sc *scratch) {
	for k := range syms {
		syms[k].prev = int32(k) - 1
		syms[k].next = int32(k) + 1
	}
	syms[len(syms)-1].next = -1
	q := sc.spmQ[:0]
	tryAdd := func(left, right int32) {
		if left < 0 || right < 0 {
			return
		}
		l, r := &syms[left], &syms[right]
		s := text[l.start : l.start+l.n+r.n]
		id, ok := t.index[s]
		if !ok {
			return
		}
		q.push(spmBigram{left: left, right: right, score: t.scores[id], size: int32(len(s))})
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(int32(i-1), int32(i))
	}
	for len(q) > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.n+r.n != b.size {
			continue
		}
		l.n += r.n
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		tryAdd(l.prev, b.left)
		tryAdd(b.left, l.next)
	}
	sc.spmQ = q[:0]
}

// emitSPM appends the tokens of the merged symbols of a run (those with n > 0, in order).
func (t *Tokenizer) emitSPM(text string, syms []symbol, out []int32) ([]int32, error) {
	for k := range syms {
		if syms[k].n == 0 {
			continue
		}
		s := text[syms[k].start : syms[k].start+syms[k].n]
		if id, ok := t.index[s]; ok {
			out = append(out, id)
			continue
		}
		for j := 0; j < len(s); j++ {
			id := t.byteTok[s[j]]
			if id == NoToken {
				id = t.special.UNK
			}
			if id == NoToken {
				return nil, fmt.Errorf("tokenizer: no byte token for 0x%02X and no unknown token", s[j])
			}
			out = append(out, id)
		}
	}
	return out, nil
}
