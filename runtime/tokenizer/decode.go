package tokenizer

import (
	"fmt"
	"strings"
)

// buildPieces computes the text of every token with special tokens rendered (llama.cpp's
// token_to_piece cache).
func (t *Tokenizer) buildPieces() {
	t.pieces = make([]string, len(t.tokens))
	for id := range t.tokens {
		t.pieces[id] = t.renderPiece(int32(id))
	}
}

func (t *Tokenizer) renderPiece(id int32) string {
	a := t.attrs[id]
	text := t.tokens[id]
	switch {
	case a&(AttrUnknown|AttrControl|AttrUserDefined) != 0:
		return text
	case a&AttrNormal != 0:
		if t.kind == KindSPM || t.escapeSpaces {
			return strings.ReplaceAll(text, "\u2581", " ")
		}
		return decodeByteLevel(text)
	case a&AttrByte != 0:
		return string([]byte{hexByte(text)})
	}
	return ""
}

// hexByte reads the byte of a "<0xNN>" token the way llama.cpp does (strtol on the two
// characters after "<0x"; whatever does not parse counts as 0).
func hexByte(text string) byte {
	if len(text) < 4 {
		return 0
	}
	s := text[3:min(5, len(text))]
	v := 0
	for i := 0; i < len(s); i++ {
		c := s[i]
		var d int
		switch {
		case c >= '0' && c <= '9':
			d = int(c - '0')
		case c >= 'a' && c <= 'f':
			d = int(c-'a') + 10
		case c >= 'A' && c <= 'F':
			d = int(c-'A') + 10
		default:
			return byte(v)
		}
		v = v*16 + d
	}
	return byte(v)
}

// decodeByteLevel maps GPT-2 byte characters back to bytes. A character outside the map is
// kept as llama.cpp's llama_decode_text does: "[UNK_BYTE_0x" + its UTF-8 in hex + text + "]".
func decodeByteLevel(text string) string {
	var b []byte
	cps := decodeCodepoints(text, nil)
	for _, c := range cps {
		if v, ok := runeToByte[c]; ok {
			b = append(b, v)
			continue
		}
		b = append(b, "[UNK_BYTE_0x"...)
		for _, x := range appendCodepoint(nil, c) {
			b = fmt.Appendf(b, "%02x", x)
		}
		b = append(b, text...)
		b = append(b, ']')
	}
	return string(b)
}

// Piece returns the text of token id with special tokens rendered as their text (what
// llama-tokenize prints next to each id); "" for an id out of range. Byte tokens give their
// single byte, which may be part of a UTF-8 sequence.
func (t *Tokenizer) Piece(id int32) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	return t.pieces[id]
}

// piece returns the text of id as llama_token_to_piece does: control and unknown tokens are
// empty unless special.
func (t *Tokenizer) piece(id int32, special bool) string {
	if id < 0 || int(id) >= len(t.pieces) {
		return ""
	}
	if !special && t.attrs[id]&(AttrUnknown|AttrControl) != 0 {
		return ""
	}
	return t.pieces[id]
}

// DetokenizeOptions are llama_detokenize's flags.
type DetokenizeOptions struct {
	// RemoveSpecial drops a leading BOS and a trailing EOS when the model adds them.
	RemoveSpecial bool
	// UnparseSpecial renders control and unknown tokens as their text.
	UnparseSpecial bool
}

// Detokenize turns ids back into text exactly as llama.cpp's llama_detokenize does: pieces are
// concatenated, the first piece loses one leading space when the model adds a space prefix
// (but, as in llama.cpp, not when RemoveSpecial dropped a BOS first), and vocabularies with
// clean_up_tokenization_spaces get " ." " ," " 's" ... tidied. Ids out of range give no text.
func (t *Tokenizer) Detokenize(ids []int32, opts DetokenizeOptions) string {
	removeSpace := t.addSpacePrefix
	if opts.RemoveSpecial && t.addBOS && len(ids) > 0 && ids[0] == t.special.BOS {
		removeSpace = false
		ids = ids[1:]
	}
	if opts.RemoveSpecial && t.addEOS && len(ids) > 0 && ids[len(ids)-1] == t.special.EOS {
		ids = ids[:len(ids)-1]
	}
	return t.join(ids, removeSpace, opts.UnparseSpecial)
}

// Decode turns ids back into text for display: control tokens (BOS, EOS, ...) give no text, a
// leading BOS is skipped, and the space a SentencePiece model puts before the text is removed
// from the first piece, so that Decode(Encode(s)) == s for SentencePiece vocabularies with
// byte fallback. Unlike Detokenize with RemoveSpecial, the space is removed after a BOS too.
func (t *Tokenizer) Decode(ids []int32) string {
	if len(ids) > 0 && ids[0] == t.special.BOS && t.special.BOS != NoToken {
		ids = ids[1:]
	}
	return t.join(ids, t.addSpacePrefix, false)
}

func (t *Tokenizer) join(ids []int32, removeSpace, special bool) string {
	var b []byte
	for i, id := range ids {
		p := t.piece(id, special)
		if i == 0 && removeSpace && len(p) > 0 && p[0] == ' ' {
			p = p[1:]
		}
		b = append(b, p...)
	}
	if t.cleanSpaces {
		b = cleanSpaces(b)
	}
	return string(b)
}

// cleanSpaces applies llama.cpp's three clean_up_tokenization_spaces passes in place: drop the
// space before ? ! . , ; drop both spaces around a lone apostrophe; drop the space before 's 'm
// 're 've.
func cleanSpaces(text []byte) []byte {
	// Pass 1: " ?", " !", " .", " ,".
	n := len(text)
	total := min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && (x == '?' || x == '!' || x == '.' || x == ',') {
			total--
		}
		text[total] = x
		total++
	}
	// Pass 2: " ' " becomes "'".
	n = total
	total = min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if x == '\'' && i+1 < n && text[i-1] == ' ' && text[i+1] == ' ' {
			total--
			i++
			text[i] = 0
		}
		text[total] = x
		total++
	}
	// Pass 3: " 's", " 'm", " 're", " 've".
	n = total
	total = min(n, 1)
	for i := 1; i < n; i++ {
		x := text[i]
		if text[i-1] == ' ' && x == '\'' && i+1 < n {
			x1 := text[i+1]
			if x1 == 's' || x1 == 'm' {
				total--
			} else if i+2 < n {
				x2 := text[i+2]
				if (x1 == 'r' && x2 == 'e') || (x1 == 'v' && x2 == 'e') {
					total--
				}
			}
		}
		text[total] = x
		total++
	}
	return text[:total]
}
