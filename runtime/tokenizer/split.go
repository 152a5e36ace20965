package tokenizer

// Hand-written pre-tokenizer splitters. They reproduce, code point for code point, the
// splitters llama.cpp's unicode.cpp uses in place of std::regex for its most common patterns
// (GPT-2, Llama 3, Qwen2, Qwen3.5, Kimi-K2, AFMoE digits, newline runs), including the places
// where those splitters and the regex they stand for disagree.

// span is a half-open range of code point indices.
type span struct{ start, end int }

// Code point information for the splitters: the category bit plus a whitespace bit. Zero means
// "outside the fragment".
const (
	infoNumber = uint16(cpNumber)
	infoLetter = uint16(cpLetter)
	infoMark   = uint16(cpMark)
	infoSpace  = uint16(1) << 8
)

// outOfRange is what cursor.at returns past either end of the fragment.
const outOfRange = rune(-1)

// cursor reads the code points of one fragment [lo, hi) and collects the pieces it is cut into.
type cursor struct {
	cps     []rune
	lo, hi  int
	prevEnd int
	out     []span
}

func (c *cursor) at(p int) rune {
	if p >= c.lo && p < c.hi {
		return c.cps[p]
	}
	return outOfRange
}

func (c *cursor) info(p int) uint16 {
	if p < c.lo || p >= c.hi {
		return 0
	}
	r := c.cps[p]
	f := uint16(cpFlags(r))
	if isWhitespace(r) {
		f |= infoSpace
	}
	return f
}

// add ends the current piece at end and returns its length.
func (c *cursor) add(end int) int {
	n := end - c.prevEnd
	if n > 0 {
		c.out = append(c.out, span{c.prevEnd, end})
	}
	c.prevEnd = end
	return n
}

// asciiLower lowers A-Z; the only code points whose simple lowercase is one of the letters the
// contraction rules test are the ASCII capitals.
func asciiLower(r rune) rune {
	if r >= 'A' && r <= 'Z' {
		return r + 'a' - 'A'
	}
	return r
}

// contraction returns the length (2 or 3) of 's 't 're 've 'm 'll 'd at p, or 0.
func (c *cursor) contraction(p int, fold bool) int {
	if c.at(p) != '\'' || p+1 >= c.hi {
		return 0
	}
	n := c.at(p + 1)
	if fold {
		n = asciiLower(n)
	}
	if n == 's' || n == 't' || n == 'm' || n == 'd' {
		return 2
	}
	if p+2 < c.hi {
		nn := c.at(p + 2)
		if fold {
			nn = asciiLower(nn)
		}
		if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
			return 3
		}
	}
	return 0
}

// whitespaceRun counts the whitespace at p and where the last \r or \n in it ends (0 if none).
func (c *cursor) whitespaceRun(p int) (n, lastRN int) {
	for c.info(p+n)&infoSpace != 0 {
		if r := c.at(p + n); r == '\r' || r == '\n' {
			lastRN = p + n + 1
		}
		n++
	}
	return n, lastRN
}

// splitterFunc cuts each fragment into pieces.
type splitterFunc func(cps []rune, frags []span, out []span) []span

// splitGPT2 implements 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
func splitGPT2(cps []rune, frags []span, out []span) []span {
	for _, f := range frags {
		c := cursor{cps: cps, lo: f.start, hi: f.end, prevEnd: f.start, out: out}
		for pos := f.start; pos < f.end; {
			cpt := c.at(pos)
			fl := c.info(pos)
			if n := c.contraction(pos, false); n > 0 {
				pos += c.add(pos + n)
				continue
			}
			f2 := fl
			if cpt == ' ' {
				f2 = c.info(pos + 1)
			}
			if f2&infoLetter != 0 || f2&infoNumber != 0 {
				want := f2 & (infoLetter | infoNumber)
				if cpt == ' ' {
					pos++
				}
				for f2&want != 0 {
					pos++
					f2 = c.info(pos)
				}
				c.add(pos)
				continue
			}
			if f2&(infoSpace|infoLetter|infoNumber) == 0 && f2 != 0 {
				if cpt == ' ' {
					pos++
				}
				for f2&(infoSpace|infoLetter|infoNumber) == 0 && f2 != 0 {
					pos++
					f2 = c.info(pos)
				}
				c.add(pos)
				continue
			}
			n, _ := c.whitespaceRun(pos)
			if n > 1 && c.at(pos+n) != outOfRange {
				pos += n - 1
				c.add(pos)
				continue
			}
			if n > 0 {
				pos += n
				c.add(pos)
				continue
			}
			pos++
			c.add(pos)
		}
		out = c.out
	}
	return out
}

// llama3Splitter implements the Llama 3 family:
// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,D}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
// with D = maxDigits (3 for Llama 3, 1 for Qwen2); marks makes \p{M} count with letters (Qwen3.5).
func llama3Splitter(maxDigits int, marks bool) splitterFunc {
	word := infoLetter
	if marks {
		word |= infoMark
	}
	return func(cps []rune, frags []span, out []span) []span {
		for _, f := range frags {
			c := cursor{cps: cps, lo: f.start, hi: f.end, prevEnd: f.start, out: out}
			for pos := f.start; pos < f.end; {
				cpt := c.at(pos)
				fl := c.info(pos)
				if n := c.contraction(pos, true); n > 0 {
					pos += c.add(pos + n)
					continue
				}
				if !(cpt == '\r' || cpt == '\n' || fl&infoNumber != 0) {
					if fl&word != 0 || c.info(pos+1)&word != 0 {
						pos++
						for c.info(pos)&word != 0 {
							pos++
						}
						c.add(pos)
						continue
					}
				}
				if fl&infoNumber != 0 {
					ini := pos
					for c.info(pos)&infoNumber != 0 {
						pos++
						if pos-ini >= maxDigits {
							c.add(pos)
							ini = pos
						}
					}
					c.add(pos)
					continue
				}
				f2 := fl
				if cpt == ' ' {
					f2 = c.info(pos + 1)
				}
				stop := infoSpace | word | infoNumber
				if f2&stop == 0 && fl != 0 {
					if cpt == ' ' {
						pos++
					}
					for f2&stop == 0 && f2 != 0 {
						pos++
						f2 = c.info(pos)
					}
					for r := c.at(pos); r == '\r' || r == '\n'; r = c.at(pos) {
						pos++
					}
					c.add(pos)
					continue
				}
				n, lastRN := c.whitespaceRun(pos)
				if lastRN > 0 {
					pos = lastRN
					c.add(pos)
					continue
				}
				if n > 1 && c.at(pos+n) != outOfRange {
					pos += n - 1
					c.add(pos)
					continue
				}
				if n > 0 {
					pos += n
					c.add(pos)
					continue
				}
				pos++
				c.add(pos)
			}
			out = c.out
		}
		return out
	}
}

// isHan reports the CJK ideograph blocks Kimi-K2's pattern treats as \p{Han}.
func isHan(r rune) bool {
	switch {
	case r >= 0x4E00 && r <= 0x9FFF, r >= 0x3400 && r <= 0x4DBF, r >= 0x20000 && r <= 0x2A6DF,
		r >= 0x2A700 && r <= 0x2B73F, r >= 0x2B740 && r <= 0x2B81F, r >= 0x2B820 && r <= 0x2CEAF,
		r >= 0x2CEB0 && r <= 0x2EBEF, r >= 0xF900 && r <= 0xFAFF, r >= 0x2F800 && r <= 0x2FA1F:
		return true
	}
	return false
}

// splitKimiK2 implements Kimi-K2's pattern: Han runs, letter words (without Han) with optional
// contractions, \p{N}{1,3}, punctuation runs, and the Llama 3 whitespace rules.
func splitKimiK2(cps []rune, frags []span, out []span) []span {
	for _, f := range frags {
		c := cursor{cps: cps, lo: f.start, hi: f.end, prevEnd: f.start, out: out}
		letter := func(p int) bool { return c.info(p)&infoLetter != 0 && !isHan(c.at(p)) }
		for pos := f.start; pos < f.end; {
			cpt := c.at(pos)
			fl := c.info(pos)
			if isHan(cpt) {
				for isHan(c.at(pos)) {
					pos++
				}
				c.add(pos)
				continue
			}
			leadable := !(cpt == '\r' || cpt == '\n' || fl&infoLetter != 0 || fl&infoNumber != 0)
			if (fl&infoLetter != 0 && !isHan(cpt)) || (leadable && letter(pos+1)) {
				hasLead := false
				if leadable {
					hasLead = true
					pos++
				}
				hasLetters := false
				for letter(pos) {
					hasLetters = true
					pos++
				}
				if hasLetters || (!hasLead && letter(pos)) {
					if !hasLetters {
						pos++
					}
					for letter(pos) {
						pos++
					}
					if c.at(pos) == '\'' && pos+1 < f.end {
						n := asciiLower(c.at(pos + 1))
						if n == 's' || n == 't' || n == 'm' || n == 'd' {
							pos += 2
						} else if pos+2 < f.end {
							nn := asciiLower(c.at(pos + 2))
							if (n == 'r' && nn == 'e') || (n == 'v' && nn == 'e') || (n == 'l' && nn == 'l') {
								pos += 3
							}
						}
					}
					c.add(pos)
					continue
				} else if hasLead {
					pos--
				}
			}
			if fl&infoNumber != 0 {
				ini := pos
				for c.info(pos)&infoNumber != 0 {
					pos++
					if pos-ini >= 3 {
						c.add(pos)
						ini = pos
					}
				}
				c.add(pos)
				continue
			}
			f2 := fl
			if cpt == ' ' {
				f2 = c.info(pos + 1)
			}
			stop := infoSpace | infoLetter | infoNumber
			if f2&stop == 0 && f2 != 0 {
				if cpt == ' ' {
					pos++
				}
				for f2&stop == 0 && f2 != 0 {
					pos++
					f2 = c.info(pos)
				}
				for r := c.at(pos); r == '\r' || r == '\n'; r = c.at(pos) {
					pos++
				}
				c.add(pos)
				continue
			}
			n, lastRN := c.whitespaceRun(pos)
			if lastRN > 0 {
				pos = lastRN
				c.add(pos)
				continue
			}
			if n > 1 && c.at(pos+n) != outOfRange {
				pos += n - 1
				c.add(pos)
				continue
			}
			if n > 0 {
				pos += n
				c.add(pos)
				continue
			}
			pos++
			c.add(pos)
		}
		out = c.out
	}
	return out
}

// splitDigitGroups implements llama.cpp's AFMoE digit splitter: a run of digits is cut into a
// leading group of len%3 digits and then groups of three. As in llama.cpp, text before a digit
// run joins the run's first group.
func splitDigitGroups(cps []rune, frags []span, out []span) []span {
	for _, f := range frags {
		c := cursor{cps: cps, lo: f.start, hi: f.end, prevEnd: f.start, out: out}
		for pos := f.start; pos < f.end; {
			if c.info(pos)&infoNumber == 0 {
				pos++
				continue
			}
			start := pos
			for pos < f.end && c.info(pos)&infoNumber != 0 {
				pos++
			}
			count := pos - start
			cur := start
			if rem := count % 3; rem > 0 {
				c.add(cur + rem)
				cur += rem
			}
			for cur < start+count {
				c.add(cur + 3)
				cur += 3
			}
		}
		if c.prevEnd < f.end {
			c.add(f.end)
		}
		out = c.out
	}
	return out
}

// splitNewlines implements [^\n]+|[\n]+.
func splitNewlines(cps []rune, frags []span, out []span) []span {
	for _, f := range frags {
		for pos := f.start; pos < f.end; {
			nl := cps[pos] == '\n'
			start := pos
			for pos < f.end && (cps[pos] == '\n') == nl {
				pos++
			}
			out = append(out, span{start, pos})
		}
	}
	return out
}
