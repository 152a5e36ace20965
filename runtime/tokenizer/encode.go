package tokenizer

import (
	"fmt"
	"strings"
	"sync"
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
}

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// Encode tokenizes text. With opts.AddSpecial it adds BOS/EOS as the model asks; it fails only
// when the model asks for a BOS or EOS it does not have, or when a SentencePiece vocabulary has
// no token for a byte of the text and no unknown token either.
func (t *Tokenizer) Encode(text string, opts EncodeOptions) ([]int32, error) {
	sc := scratchPool.Get().(*scratch)
	defer scratchPool.Put(sc)
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

// partition cuts special tokens out of the text fragments, one token at a time in partOrder,
// the way llama.cpp's tokenizer_st_partition does (including LSTRIP/RSTRIP whitespace eating).
func (t *Tokenizer) partition(text string, sc *scratch, parseSpecial bool) {
	for _, id := range t.partOrder {
		a := t.attrs[id]
		if !parseSpecial && a&(AttrControl|AttrUnknown) != 0 {
			continue
		}
		tok := t.tokens[id]
		// Skip quickly when the token occurs nowhere.
		if !strings.Contains(text, tok) {
			continue
		}
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
