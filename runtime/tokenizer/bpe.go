package tokenizer

// bpeBigram is a candidate merge of two adjacent symbols with its rank in the merge list.
type bpeBigram struct {
	left, right int32
	rank        int32
	lsym, rsym  int32 // the symbols' ids when the candidate was made
	merged      int32
}

// bpeQueue is a min-heap on rank, then on left position (llm_bigram_bpe's order).
type bpeQueue []bpeBigram

func (q bpeQueue) less(i, j int) bool {
	if q[i].rank != q[j].rank {
		return q[i].rank < q[j].rank
	}
	return q[i].left < q[j].left
}

func (q *bpeQueue) push(b bpeBigram) {
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

func (q *bpeQueue) pop() bpeBigram {
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

// encodeBPE pre-tokenizes text into words and merges each word.
func (t *Tokenizer) encodeBPE(text string, out []int32, sc *scratch) []int32 {
	sc.cps = decodeCodepoints(text, sc.cps)
	cps := sc.cps
	spans := append(sc.spans[:0], span{0, len(cps)})
	if len(cps) == 0 {
		return out
	}
	collapsedDone, wideDone := false, false
	for _, st := range t.steps {
		next := sc.spans2[:0]
		if st.custom != nil {
			next = st.custom(cps, spans, next)
		} else {
			var elems []rune
			if st.re.collapsed {
				if !collapsedDone {
					sc.collapsed = collapse(cps, sc.collapsed)
					collapsedDone = true
				}
				elems = sc.collapsed
			} else {
				if !wideDone {
					sc.wide = widen(cps, sc.wide)
					wideDone = true
				}
				elems = sc.wide
			}
			next = st.re.split(&sc.m, elems, spans, next)
		}
		spans, sc.spans2 = next, spans
	}
	sc.spans = spans

	// Words are re-encoded from code points, so invalid UTF-8 reaches BPE as U+FFFD, as in
	// llama.cpp.
	norm := sc.norm[:0]
	boff := sc.boff[:0]
	for _, c := range cps {
		boff = append(boff, int32(len(norm)))
		norm = appendCodepoint(norm, c)
	}
	boff = append(boff, int32(len(norm)))
	sc.norm, sc.boff = norm, boff
	out, _ = t.spread(len(norm), len(spans), out, sc, func(lo, hi int, sc *scratch, out []int32) ([]int32, error) {
		for _, s := range spans[lo:hi] {
			word := norm[boff[s.start]:boff[s.end]]
			if ids, ok := sc.cache.get(string(word)); ok {
				out = append(out, ids...)
				continue
			}
			first := len(out)
			out = t.bpeWord(word, out, sc)
			sc.cache.put(string(word), out[first:])
		}
		return out, nil
	})
	return out
}

// bpeWord merges one word. With GPT-2 byte encoding every byte starts as the symbol of its
// mapped character; otherwise every UTF-8 character starts as its own symbol.
func (t *Tokenizer) bpeWord(word []byte, out []int32, sc *scratch) []int32 {
	if len(word) == 0 {
		return out
	}
	if t.spec.wholeNewline && allNewlines(word) {
		if id, ok := t.index[string(word)]; ok {
			return append(out, id)
		}
	}
	if t.ignoreMerges {
		var key []byte
		if t.byteEncode {
			key = sc.buf[:0]
			for _, b := range word {
				key = append(key, t.byteStr[b]...)
			}
			sc.buf = key
		} else {
			key = word
		}
		if id, ok := t.index[string(key)]; ok {
			return append(out, id)
		}
	}
	syms := sc.syms[:0]
	if t.byteEncode {
		for i, b := range word {
			syms = append(syms, symbol{start: int32(i), n: 1, prev: int32(i) - 1, next: int32(i) + 1, sym: t.byteSym[b]})
		}
	} else {
		for off := 0; off < len(word); {
			n := min(utf8SeqLen(word[off]), len(word)-off)
			idx := int32(len(syms))
			syms = append(syms, symbol{start: int32(off), n: int32(n), prev: idx - 1, next: idx + 1, sym: t.symbolOf(string(word[off : off+n]))})
			off += n
		}
	}
	syms[len(syms)-1].next = -1

	q := sc.bpeQ[:0]
	tryAdd := func(left, right int32) {
		if left < 0 || right < 0 {
			return
		}
		ls, rs := syms[left].sym, syms[right].sym
		if ls < 0 || rs < 0 {
			return
		}
		v, ok := t.merges[uint64(uint32(ls))<<32|uint64(uint32(rs))]
		if !ok {
			return
		}
		q.push(bpeBigram{left: left, right: right, rank: int32(v >> 32), lsym: ls, rsym: rs, merged: int32(uint32(v))})
	}
	for i := 1; i < len(syms); i++ {
		tryAdd(int32(i-1), int32(i))
	}
	for len(q) > 0 {
		b := q.pop()
		l, r := &syms[b.left], &syms[b.right]
		if l.n == 0 || r.n == 0 || l.sym != b.lsym || r.sym != b.rsym {
			continue
		}
		l.n += r.n
		l.sym = b.merged
		r.n = 0
		l.next = r.next
		if r.next >= 0 {
			syms[r.next].prev = b.left
		}
		tryAdd(l.prev, b.left)
		tryAdd(b.left, l.next)
	}
	sc.bpeQ = q[:0]

	ntok := int32(len(t.tokens))
	for i := range syms {
		s := &syms[i]
		if s.n == 0 {
			continue
		}
		if s.sym >= 0 && s.sym < ntok {
			out = append(out, s.sym)
			continue
		}
		// Not a token: llama.cpp falls back byte by byte over the symbol's (encoded) text,
		// looking each byte up as a one-byte token, or as a <0xNN> token without byte encoding,
		// and drops the bytes it finds nothing for.
		raw := word[s.start : s.start+s.n]
		if t.byteEncode {
			for _, b := range raw {
				enc := t.byteStr[b]
				for j := 0; j < len(enc); j++ {
					if id := t.rawByte[enc[j]]; id != NoToken {
						out = append(out, id)
					}
				}
			}
		} else {
			for _, b := range raw {
				if id := t.byteTok[b]; id != NoToken {
					out = append(out, id)
				}
			}
		}
	}
	sc.syms = syms[:0]
	return out
}

func allNewlines(b []byte) bool {
	for _, c := range b {
		if c != '\n' {
			return false
		}
	}
	return true
}
