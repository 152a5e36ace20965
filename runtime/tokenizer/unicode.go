package tokenizer

import (
	"sync"
	"unicode"
)

// Code point classes, as llama.cpp's unicode tables define them: one general category (a
// category bit), plus a whitespace bit from Unicode's White_Space property. A code point that
// Unicode leaves unassigned has only cpUndefined. The zero value (no bit at all) stands for
// "past the end of the fragment" in the splitters, never for a real code point.
const (
	cpUndefined   uint8 = 1 << 0
	cpNumber      uint8 = 1 << 1 // \p{N}
	cpLetter      uint8 = 1 << 2 // \p{L}
	cpSeparator   uint8 = 1 << 3 // \p{Z}
	cpMark        uint8 = 1 << 4 // \p{M}
	cpPunctuation uint8 = 1 << 5 // \p{P}
	cpSymbol      uint8 = 1 << 6 // \p{S}
	cpControl     uint8 = 1 << 7 // \p{C}
)

// maxCodepoint bounds the code points the flag table covers.
const maxCodepoint = 0x110000

// cpFlagTable holds the category bit of every code point below maxCodepoint; whitespace is
// kept apart (isWhitespace) since the category byte is full.
var (
	cpFlagOnce  sync.Once
	cpFlagTable []uint8
)

// cpCategories maps Go's general-category tables to the category bits.
var cpCategories = []struct {
	table *unicode.RangeTable
	flag  uint8
}{
	{unicode.Lu, cpLetter}, {unicode.Ll, cpLetter}, {unicode.Lt, cpLetter}, {unicode.Lm, cpLetter}, {unicode.Lo, cpLetter},
	{unicode.Mn, cpMark}, {unicode.Mc, cpMark}, {unicode.Me, cpMark},
	{unicode.Nd, cpNumber}, {unicode.Nl, cpNumber}, {unicode.No, cpNumber},
	{unicode.Pc, cpPunctuation}, {unicode.Pd, cpPunctuation}, {unicode.Ps, cpPunctuation}, {unicode.Pe, cpPunctuation},
	{unicode.Pi, cpPunctuation}, {unicode.Pf, cpPunctuation}, {unicode.Po, cpPunctuation},
	{unicode.Sm, cpSymbol}, {unicode.Sc, cpSymbol}, {unicode.Sk, cpSymbol}, {unicode.So, cpSymbol},
	{unicode.Zs, cpSeparator}, {unicode.Zl, cpSeparator}, {unicode.Zp, cpSeparator},
	{unicode.Cc, cpControl}, {unicode.Cf, cpControl}, {unicode.Co, cpControl}, {unicode.Cs, cpControl},
}

func buildFlagTable() {
	t := make([]uint8, maxCodepoint)
	for i := range t {
		t[i] = cpUndefined
	}
	for _, c := range cpCategories {
		for _, r := range c.table.R16 {
			for cp := uint32(r.Lo); cp <= uint32(r.Hi); cp += uint32(r.Stride) {
				t[cp] = c.flag
			}
		}
		for _, r := range c.table.R32 {
			for cp := r.Lo; cp <= r.Hi; cp += r.Stride {
				t[cp] = c.flag
			}
		}
	}
	cpFlagTable = t
}

// cpFlags returns the category bit of code point c (cpUndefined for anything out of range).
func cpFlags(c rune) uint8 {
	cpFlagOnce.Do(buildFlagTable)
	if uint32(c) < maxCodepoint {
		return cpFlagTable[c]
	}
	return cpUndefined
}

// isWhitespace reports Unicode's White_Space property, the set llama.cpp's splitters and \s use.
func isWhitespace(c rune) bool {
	switch {
	case c >= 0x09 && c <= 0x0D, c == 0x20, c == 0x85, c == 0xA0, c == 0x1680,
		c >= 0x2000 && c <= 0x200A, c == 0x2028, c == 0x2029, c == 0x202F, c == 0x205F, c == 0x3000:
		return true
	}
	return false
}

// utf8SeqLen returns the length of the UTF-8 sequence a lead byte announces, the way llama.cpp's
// unicode_len_utf8 does: 1 for ASCII and for stray continuation bytes.
func utf8SeqLen(b byte) int {
	switch b >> 4 {
	case 0xC, 0xD:
		return 2
	case 0xE:
		return 3
	case 0xF:
		return 4
	}
	return 1
}

// decodeCodepoints splits s into code points like llama.cpp's unicode_cpts_from_utf8: a byte
// that does not start a complete sequence becomes U+FFFD and decoding goes on at the next
// byte. Overlong forms and surrogates are decoded as written (llama.cpp does not reject them);
// values past U+10FFFF, which llama.cpp cannot encode back, become U+FFFD.
func decodeCodepoints(s string, out []rune) []rune {
	out = out[:0]
	for i := 0; i < len(s); {
		b := s[i]
		switch {
		case b < 0x80:
			out = append(out, rune(b))
			i++
			continue
		case b&0x40 == 0:
		case b&0x20 == 0:
			if i+1 < len(s) && s[i+1]&0xC0 == 0x80 {
				out = append(out, rune(b&0x1F)<<6|rune(s[i+1]&0x3F))
				i += 2
				continue
			}
		case b&0x10 == 0:
			if i+2 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 {
				out = append(out, rune(b&0x0F)<<12|rune(s[i+1]&0x3F)<<6|rune(s[i+2]&0x3F))
				i += 3
				continue
			}
		case b&0x08 == 0:
			if i+3 < len(s) && s[i+1]&0xC0 == 0x80 && s[i+2]&0xC0 == 0x80 && s[i+3]&0xC0 == 0x80 {
				c := rune(b&0x07)<<18 | rune(s[i+1]&0x3F)<<12 | rune(s[i+2]&0x3F)<<6 | rune(s[i+3]&0x3F)
				if c >= maxCodepoint {
					c = 0xFFFD
				}
				out = append(out, c)
				i += 4
				continue
			}
		}
		out = append(out, 0xFFFD)
		i++
	}
	return out
}

// appendCodepoint appends the UTF-8 encoding of c, surrogates included (as llama.cpp's
// unicode_cpt_to_utf8 does, unlike utf8.AppendRune).
func appendCodepoint(b []byte, c rune) []byte {
	switch {
	case c < 0x80:
		return append(b, byte(c))
	case c < 0x800:
		return append(b, 0xC0|byte(c>>6), 0x80|byte(c&0x3F))
	case c < 0x10000:
		return append(b, 0xE0|byte(c>>12), 0x80|byte(c>>6&0x3F), 0x80|byte(c&0x3F))
	case c < maxCodepoint:
		return append(b, 0xF0|byte(c>>18), 0x80|byte(c>>12&0x3F), 0x80|byte(c>>6&0x3F), 0x80|byte(c&0x3F))
	}
	return append(b, 0xEF, 0xBF, 0xBD)
}

// byteToRune is GPT-2's byte-to-unicode map: printable Latin-1 bytes stand for themselves, the
// other 68 bytes for U+0100 onwards in byte order, so every byte string becomes printable text.
var byteToRune, runeToByte = buildByteMaps()

func buildByteMaps() ([256]rune, map[rune]byte) {
	var fwd [256]rune
	rev := make(map[rune]byte, 256)
	n := rune(0)
	for b := 0; b < 256; b++ {
		if (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF) {
			fwd[b] = rune(b)
		} else {
			fwd[b] = 256 + n
			n++
		}
		rev[fwd[b]] = byte(b)
	}
	return fwd, rev
}
