package tokenizer

import (
	"fmt"
	"runtime"
	"slices"
	"strings"
)

// EncodeOptions controls Encode.
type EncodeOptions struct {
	// AddSpecial adds the BOS and EOS tokens the model asks for (AddBOS, AddEOS), like
	// llama_tokenize's add_special.
	AddSpecial bool
	// ParseSpecial turns the text of control tokens such as "<|im_start|>" into those tokens,
	// like llama_tokenize's parse_special. User-defined tokens are always recognised.
	ParseSpecial bool
}

// fragment is a piece of the input: a token cut out by the special-token pass (tok >= 0) or
// a range of text still to tokenize.
type fragment struct {
	tok        int32
	start, end int
}

// scratch holds the buffers of one Encode call.
type scratch struct {
	frags, frags2 []fragment
	cps, alt      []rune
	collapsed     []rune
	wide          []rune
	spans, spans2 []span
	norm          []byte
	boff          []int32
	syms          []symbol
	spmQ          spmQueue
	bpeQ          bpeQueue
	buf           []byte
	m             matcher
	cache         idCache
	ranks         []int32
	bounds        []int32
}

// MaxText is the longest text one Encode call takes, in bytes (positions are kept as int32).
const MaxText = 1 << 30

// getScratch takes a scratch space from the tokenizer's free list (or makes one). The list is a
// plain slice rather than a sync.Pool so that the word caches survive garbage collections.
func (t *Tokenizer) getScratch() *scratch {
	t.scratchMu.Lock()
	defer t.scratchMu.Unlock()
	if n := len(t.scratch); n > 0 {
		sc := t.scratch[n-1]
		t.scratch = t.scratch[:n-1]
		return sc
	}
	return new(scratch)
}

// maxKeptBuffer is the largest per-call buffer (in elements) a scratch keeps between calls:
// enough for inputs of a few MB, so that tokenizing a corpus chunk by chunk does not allocate.
const maxKeptBuffer = 1 << 22

// putScratch returns sc to the free list, dropping buffers grown by one large input.
func (t *Tokenizer) putScratch(sc *scratch) {
	if cap(sc.cps) > maxKeptBuffer {
		sc.cps, sc.collapsed, sc.wide, sc.boff = nil, nil, nil, nil
	}
	if cap(sc.norm) > 4*maxKeptBuffer {
		sc.norm = nil
	}
	if cap(sc.spans) > maxKeptBuffer || cap(sc.spans2) > maxKeptBuffer {
		sc.spans, sc.spans2 = nil, nil
	}
	if cap(sc.syms) > maxKeptBuffer || cap(sc.frags) > maxKeptBuffer || cap(sc.frags2) > maxKeptBuffer || cap(sc.bounds) > maxKeptBuffer {
		sc.syms, sc.frags, sc.frags2, sc.bounds = nil, nil, nil, nil
	}
	sc.spmQ, sc.bpeQ, sc.m.stack = sc.spmQ[:0], sc.bpeQ[:0], sc.m.stack[:0]
	t.scratchMu.Lock()
	defer t.scratchMu.Unlock()
	if len(t.scratch) < 2*runtime.GOMAXPROCS(0)+2 {
		t.scratch = append(t.scratch, sc)
	}
}

// Encode tokenizes text. With opts.AddSpecial it adds BOS/EOS as the model asks; it fails only
// when the model asks for a BOS or EOS it does not have, when a SentencePiece vocabulary has no
// token for a byte of the text and no unknown token either, or when text is longer than MaxText.
func (t *Tokenizer) Encode(text string, opts EncodeOptions) ([]int32, error) {
	if len(text) > MaxText {
		return nil, fmt.Errorf("tokenizer: text of %d bytes is longer than the %d bytes one Encode call takes", len(text), MaxText)
	}
	sc := t.getScratch()
	defer t.putScratch(sc)
	out := make([]int32, 0, len(text)/3+4)

	sc.frags = sc.frags[:0]
	if text != "" {
		sc.frags = append(sc.frags, fragment{tok: NoToken, start: 0, end: len(text)})
		t.partition(text, sc, opts.ParseSpecial)
	}
	addSpecial := opts.AddSpecial
	if addSpecial && t.addBOS {
		if t.special.BOS == NoToken {
			return nil, fmt.Errorf("tokenizer: the model asks for a BOS token but has none")
		}
		out = append(out, t.special.BOS)
	}
	prevSpecial := true
	var err error
	for _, f := range sc.frags {
		if f.tok != NoToken {
			out = append(out, f.tok)
			prevSpecial = true
			continue
		}
		piece := text[f.start:f.end]
		switch t.kind {
		case KindSPM:
			if t.addSpacePrefix && prevSpecial {
				piece = " " + piece
			}
			piece = strings.ReplaceAll(piece, " ", "\u2581")
			if out, err = t.encodeSPM(piece, out, sc); err != nil {
				return nil, err
			}
		case KindBPE:
			if t.escapeSpaces {
				piece = strings.ReplaceAll(piece, " ", "\u2581")
			}
			out = t.encodeBPE(piece, out, sc)
		}
		prevSpecial = false
	}
	if addSpecial && t.addEOS {
		if t.special.EOS == NoToken {
			return nil, fmt.Errorf("tokenizer: the model asks for an EOS token but has none")
		}
		out = append(out, t.special.EOS)
	}
	return out, nil
}

// isCSpace is C's isspace in the "C" locale.
func isCSpace(b byte) bool { return b == ' ' || (b >= '\t' && b <= '\r') }

// specialTrie indexes the texts of the special tokens, to find in one pass over the input
// which of them occur at all.
type specialTrie struct {
	first [256]int32       // node reached by the first byte, 0 if none
	edges []map[byte]int32 // children of each node
	term  []int32          // rank in partOrder of the token ending at each node, -1 if none
}

func (t *Tokenizer) buildSpecialTrie() {
	tr := &specialTrie{edges: []map[byte]int32{nil}, term: []int32{-1}}
	for rank, id := range t.partOrder {
		s := t.tokens[id]
		node := int32(0)
		for i := 0; i < len(s); i++ {
			var next int32
			if i == 0 {
				next = tr.first[s[0]]
			} else if tr.edges[node] != nil {
				next = tr.edges[node][s[i]]
			}
			if next == 0 {
				next = int32(len(tr.term))
				tr.edges = append(tr.edges, nil)
				tr.term = append(tr.term, -1)
				if i == 0 {
					tr.first[s[0]] = next
				} else {
					if tr.edges[node] == nil {
						tr.edges[node] = map[byte]int32{}
					}
					tr.edges[node][s[i]] = next
				}
			}
			node = next
		}
		if tr.term[node] < 0 {
			tr.term[node] = int32(rank)
		}
	}
	t.trie = tr
}

// occurring appends the partOrder ranks of the special tokens that occur in text, sorted.
func (t *Tokenizer) occurring(text string, parseSpecial bool, ranks []int32) []int32 {
	tr := t.trie
	seen := map[int32]bool{}
	for p := 0; p < len(text); p++ {
		node := tr.first[text[p]]
		for q := p + 1; node != 0; q++ {
			if r := tr.term[node]; r >= 0 && !seen[r] {
				a := t.attrs[t.partOrder[r]]
				if parseSpecial || a&(AttrControl|AttrUnknown) == 0 {
					seen[r] = true
					ranks = append(ranks, r)
				}
			}
			if q >= len(text) || tr.edges[node] == nil {
				break
			}
			node = tr.edges[node][text[q]]
		}
	}
	slices.Sort(ranks)
	return ranks
}

// partition cuts special tokens out of the text fragments, one token at a time in partOrder,
// the way llama.cpp's tokenizer_st_partition does (including LSTRIP/RSTRIP whitespace eating).
func (t *Tokenizer) partition(text string, sc *scratch, parseSpecial bool) {
	sc.ranks = t.occurring(text, parseSpecial, sc.ranks[:0])
	for _, rank := range sc.ranks {
		id := t.partOrder[rank]
		a := t.attrs[id]
		tok := t.tokens[id]
		next := sc.frags2[:0]
		for _, f := range sc.frags {
			if f.tok != NoToken {
				next = append(next, f)
				continue
			}
			start, end := f.start, f.end
			for start < end {
				i := strings.Index(text[start:end], tok)
				if i < 0 {
					break
				}
				m := start + i
				left := m
				if a&AttrLStrip != 0 {
					for left > start && isCSpace(text[left-1]) {
						left--
					}
				}
				if left > start {
					next = append(next, fragment{tok: NoToken, start: start, end: left})
				}
				next = append(next, fragment{tok: id, start: m, end: m + len(tok)})
				start = m + len(tok)
				if a&AttrRStrip != 0 {
					for start < end && isCSpace(text[start]) {
						start++
					}
				}
			}
			if start < end {
				next = append(next, fragment{tok: NoToken, start: start, end: end})
			}
		}
		sc.frags, sc.frags2 = next, sc.frags
	}
}
