package tokenizer

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// This file holds a small backtracking regular-expression engine with the semantics of
// ECMAScript's std::regex as llama.cpp runs its pre-tokenizer patterns: ordered alternation,
// greedy (or lazy) quantifiers, (?:...), lookahead (?=...) and (?!...), \s \d \w and their
// negations, ^ $ \b. Go's regexp has no lookahead, so the patterns cannot run there.
//
// llama.cpp evaluates a pattern in one of two modes, and so does this engine:
//   - collapsed: when the pattern uses \p{L}, \p{N}, \p{P}, \p{M}, \p{S} (or \p{Lu} ...), every
//     code point of the text is replaced by one byte: ASCII stays, whitespace becomes 0x0B and
//     any other code point the byte of its category (0xD1 number, 0xD2 letter, 0xD3
//     punctuation, 0xD4 mark, 0xD5 symbol, 0xD0 anything else), and \p{X} matches that byte
//     plus the ASCII members of X. All letter sub-categories collapse to \p{L}.
//   - wide: otherwise the pattern runs on code points, with non-ASCII whitespace replaced by
//     0x0B so that \s (ASCII whitespace only, as in std::wregex) still sees it.

// Collapsed bytes of the non-ASCII code point categories.
const (
	collapsedOther  = 0xD0
	collapsedNumber = 0xD1
	collapsedLetter = 0xD2
	collapsedPunct  = 0xD3
	collapsedMark   = 0xD4
	collapsedSymbol = 0xD5
	collapsedSpace  = 0x0B
)

// collapse returns the collapsed form of the code points.
func collapse(cps []rune, out []rune) []rune {
	out = out[:0]
	for _, c := range cps {
		switch {
		case c < 128:
		case isWhitespace(c):
			c = collapsedSpace
		default:
			switch cpFlags(c) {
			case cpNumber:
				c = collapsedNumber
			case cpLetter:
				c = collapsedLetter
			case cpPunctuation:
				c = collapsedPunct
			case cpMark:
				c = collapsedMark
			case cpSymbol:
				c = collapsedSymbol
			default:
				c = collapsedOther
			}
		}
		out = append(out, c)
	}
	return out
}

// widen returns the code points with non-ASCII whitespace replaced by 0x0B.
func widen(cps []rune, out []rune) []rune {
	out = out[:0]
	for _, c := range cps {
		if c > 0x7F && isWhitespace(c) {
			c = collapsedSpace
		}
		out = append(out, c)
	}
	return out
}

// runeRange is an inclusive range of code points (or collapsed bytes).
type runeRange struct{ lo, hi rune }

// charClass is a set of elements: a bitmap for values below 256 and sorted ranges above.
type charClass struct {
	low   [4]uint64
	high  []runeRange
	neg   bool
	empty bool // true while nothing was added (for diagnostics)
}

func (c *charClass) addRange(lo, hi rune) {
	c.empty = false
	for r := lo; r <= hi && r < 256; r++ {
		c.low[r>>6] |= 1 << (r & 63)
	}
	if hi >= 256 {
		c.high = append(c.high, runeRange{max(lo, 256), hi})
	}
}

func (c *charClass) addClass(o *charClass) {
	if o.neg {
		// Add the complement of o: walk the gaps of its set.
		prev := rune(0)
		for r := rune(0); r < 256; r++ {
			if !o.hasPositive(r) {
				c.addRange(r, r)
			}
		}
		hs := append([]runeRange(nil), o.high...)
		sort.Slice(hs, func(i, j int) bool { return hs[i].lo < hs[j].lo })
		prev = 256
		for _, h := range hs {
			if h.lo > prev {
				c.addRange(prev, h.lo-1)
			}
			prev = max(prev, h.hi+1)
		}
		if prev <= 0x7FFFFFFF-1 {
			c.addRange(prev, 0x7FFFFFFF-1)
		}
		return
	}
	for i := range c.low {
		c.low[i] |= o.low[i]
	}
	c.high = append(c.high, o.high...)
	c.empty = c.empty && o.empty
}

// finish sorts and merges the high ranges.
func (c *charClass) finish() {
	if len(c.high) < 2 {
		return
	}
	sort.Slice(c.high, func(i, j int) bool { return c.high[i].lo < c.high[j].lo })
	out := c.high[:1]
	for _, r := range c.high[1:] {
		last := &out[len(out)-1]
		if r.lo <= last.hi+1 {
			last.hi = max(last.hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	c.high = out
}

func (c *charClass) hasPositive(r rune) bool {
	if r < 0 {
		return false
	}
	if r < 256 {
		return c.low[r>>6]&(1<<(r&63)) != 0
	}
	return c.hasHigh(r)
}

// has reports whether the class matches element r.
func (c *charClass) has(r rune) bool {
	if uint32(r) < 256 {
		return (c.low[r>>6]>>(r&63)&1 != 0) != c.neg
	}
	return c.hasHigh(r) != c.neg
}

func (c *charClass) hasHigh(r rune) bool {
	h := c.high
	lo, hi := 0, len(h)
	for lo < hi {
		m := int(uint(lo+hi) >> 1)
		if h[m].hi < r {
			lo = m + 1
		} else {
			hi = m
		}
	}
	return lo < len(h) && h[lo].lo <= r
}

// Escape classes shared by both modes. \s is ASCII whitespace only: std::regex's \s does not
// match other code points, which is why non-ASCII whitespace is mapped to 0x0B first.
func spaceClass() *charClass {
	c := &charClass{}
	c.addRange(0x09, 0x0D)
	c.addRange(' ', ' ')
	return c
}

func digitClass() *charClass {
	c := &charClass{}
	c.addRange('0', '9')
	return c
}

func wordClass() *charClass {
	c := &charClass{}
	c.addRange('0', '9')
	c.addRange('A', 'Z')
	c.addRange('a', 'z')
	c.addRange('_', '_')
	return c
}

// categoryClass returns the collapsed class for \p{name}.
func categoryClass(name string) (*charClass, bool) {
	c := &charClass{}
	switch name {
	case "N":
		c.addRange(collapsedNumber, collapsedNumber)
		c.addRange('0', '9')
	case "L", "Lu", "Ll", "Lt", "Lm", "Lo":
		c.addRange(collapsedLetter, collapsedLetter)
		c.addRange('A', 'Z')
		c.addRange('a', 'z')
	case "P":
		c.addRange(collapsedPunct, collapsedPunct)
		for _, r := range []runeRange{{'!', '#'}, {'%', '*'}, {',', '/'}, {':', ';'}, {'?', '@'}, {'[', ']'}, {'_', '_'}, {'{', '{'}, {'}', '}'}} {
			c.addRange(r.lo, r.hi)
		}
	case "M":
		c.addRange(collapsedMark, collapsedMark)
	case "S":
		c.addRange(collapsedSymbol, collapsedSymbol)
		for _, r := range []runeRange{{'$', '$'}, {'+', '+'}, {'<', '>'}, {'^', '^'}, {'`', '`'}, {'|', '|'}, {'~', '~'}} {
			c.addRange(r.lo, r.hi)
		}
	default:
		return nil, false
	}
	return c, true
}

// usesCategories reports whether a pattern needs the collapsed mode.
func usesCategories(pattern string) bool {
	for _, p := range []string{`\p{N}`, `\p{L}`, `\p{P}`, `\p{M}`, `\p{S}`, `\p{Lu}`, `\p{Ll}`, `\p{Lt}`, `\p{Lm}`, `\p{Lo}`} {
		if strings.Contains(pattern, p) {
			return true
		}
	}
	return false
}

// compiledRegex AST.
type nodeKind uint8

const (
	nClass nodeKind = iota
	nConcat
	nAlt
	nRepeat
	nLook
	nBOL
	nEOL
	nWordB
	nNotWordB
	nEmpty
)

type node struct {
	kind   nodeKind
	cls    *charClass
	subs   []*node
	min    int
	max    int // -1: unbounded
	greedy bool
	neg    bool // negative lookahead
}

type parser struct {
	src       []rune
	pos       int
	collapsed bool
	depth     int
}

func (p *parser) errorf(format string, args ...any) error {
	return fmt.Errorf("regex %q at %d: %s", string(p.src), p.pos, fmt.Sprintf(format, args...))
}

func (p *parser) more() bool { return p.pos < len(p.src) }
func (p *parser) peek() rune { return p.src[p.pos] }
func (p *parser) next() rune { r := p.src[p.pos]; p.pos++; return r }
func (p *parser) eat(s string) bool {
	rs := []rune(s)
	if p.pos+len(rs) > len(p.src) {
		return false
	}
	for i, r := range rs {
		if p.src[p.pos+i] != r {
			return false
		}
	}
	p.pos += len(rs)
	return true
}

func (p *parser) parseAlt() (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > 100 {
		return nil, p.errorf("nested too deeply")
	}
	var alts []*node
	for {
		c, err := p.parseConcat()
		if err != nil {
			return nil, err
		}
		alts = append(alts, c)
		if p.more() && p.peek() == '|' {
			p.pos++
			continue
		}
		break
	}
	if len(alts) == 1 {
		return alts[0], nil
	}
	return &node{kind: nAlt, subs: alts}, nil
}

func (p *parser) parseConcat() (*node, error) {
	var items []*node
	for p.more() && p.peek() != '|' && p.peek() != ')' {
		a, err := p.parseRepeat()
		if err != nil {
			return nil, err
		}
		items = append(items, a)
	}
	switch len(items) {
	case 0:
		return &node{kind: nEmpty}, nil
	case 1:
		return items[0], nil
	}
	return &node{kind: nConcat, subs: items}, nil
}

func (p *parser) parseInt() (int, bool) {
	start := p.pos
	for p.more() && p.peek() >= '0' && p.peek() <= '9' {
		p.pos++
	}
	if p.pos == start {
		return 0, false
	}
	n, err := strconv.Atoi(string(p.src[start:p.pos]))
	if err != nil || n > 10000 {
		return 0, false
	}
	return n, true
}

func (p *parser) parseRepeat() (*node, error) {
	a, err := p.parseAtom()
	if err != nil {
		return nil, err
	}
	for p.more() {
		min, max := 0, 0
		switch p.peek() {
		case '?':
			min, max = 0, 1
			p.pos++
		case '*':
			min, max = 0, -1
			p.pos++
		case '+':
			min, max = 1, -1
			p.pos++
		case '{':
			save := p.pos
			p.pos++
			n, ok := p.parseInt()
			if !ok {
				p.pos = save
				return a, nil // a literal '{' follows; parseAtom takes it next
			}
			min, max = n, n
			if p.more() && p.peek() == ',' {
				p.pos++
				if m, ok := p.parseInt(); ok {
					max = m
				} else {
					max = -1
				}
			}
			if !p.more() || p.next() != '}' {
				return nil, p.errorf("bad repetition")
			}
			if max != -1 && max < min {
				return nil, p.errorf("repetition {%d,%d} out of order", min, max)
			}
		default:
			return a, nil
		}
		greedy := true
		if p.more() && p.peek() == '?' {
			greedy = false
			p.pos++
		}
		switch a.kind {
		case nBOL, nEOL, nWordB, nNotWordB, nLook:
			return nil, p.errorf("nothing to repeat")
		}
		a = &node{kind: nRepeat, subs: []*node{a}, min: min, max: max, greedy: greedy}
	}
	return a, nil
}

func (p *parser) parseAtom() (*node, error) {
	if !p.more() {
		return nil, p.errorf("unexpected end")
	}
	r := p.next()
	switch r {
	case '(':
		kind, neg := nConcat, false
		switch {
		case p.eat("?:"):
		case p.eat("?="):
			kind = nLook
		case p.eat("?!"):
			kind, neg = nLook, true
		case p.more() && p.peek() == '?':
			return nil, p.errorf("unsupported group")
		}
		sub, err := p.parseAlt()
		if err != nil {
			return nil, err
		}
		if !p.more() || p.next() != ')' {
			return nil, p.errorf("missing )")
		}
		if kind == nLook {
			return &node{kind: nLook, subs: []*node{sub}, neg: neg}, nil
		}
		return sub, nil
	case '[':
		return p.parseClass()
	case '.':
		c := &charClass{neg: true}
		c.addRange('\n', '\n')
		c.addRange('\r', '\r')
		c.addRange(0x2028, 0x2029)
		return &node{kind: nClass, cls: c}, nil
	case '^':
		return &node{kind: nBOL}, nil
	case '$':
		return &node{kind: nEOL}, nil
	case '\\':
		if p.more() {
			switch p.peek() {
			case 'b':
				p.pos++
				return &node{kind: nWordB}, nil
			case 'B':
				p.pos++
				return &node{kind: nNotWordB}, nil
			}
		}
		c, err := p.parseEscape()
		if err != nil {
			return nil, err
		}
		return &node{kind: nClass, cls: c}, nil
	case ')', '*', '+', '?':
		return nil, p.errorf("unexpected %q", r)
	}
	c := &charClass{}
	c.addRange(r, r)
	return &node{kind: nClass, cls: c}, nil
}

// parseEscape parses the escape after a backslash and returns its class.
func (p *parser) parseEscape() (*charClass, error) {
	if !p.more() {
		return nil, p.errorf("trailing backslash")
	}
	r := p.next()
	lit := func(x rune) *charClass { c := &charClass{}; c.addRange(x, x); return c }
	neg := func(c *charClass) *charClass { c.neg = true; return c }
	switch r {
	case 's':
		return spaceClass(), nil
	case 'S':
		return neg(spaceClass()), nil
	case 'd':
		return digitClass(), nil
	case 'D':
		return neg(digitClass()), nil
	case 'w':
		return wordClass(), nil
	case 'W':
		return neg(wordClass()), nil
	case 'n':
		return lit('\n'), nil
	case 'r':
		return lit('\r'), nil
	case 't':
		return lit('\t'), nil
	case 'f':
		return lit('\f'), nil
	case 'v':
		return lit('\v'), nil
	case '0':
		return lit(0), nil
	case 'x', 'u':
		n := 2
		if r == 'u' {
			n = 4
		}
		if p.pos+n > len(p.src) {
			return nil, p.errorf("short \\%c escape", r)
		}
		v, err := strconv.ParseUint(string(p.src[p.pos:p.pos+n]), 16, 32)
		if err != nil {
			return nil, p.errorf("bad \\%c escape", r)
		}
		p.pos += n
		return lit(rune(v)), nil
	case 'p':
		if !p.more() || p.next() != '{' {
			return nil, p.errorf("bad \\p")
		}
		start := p.pos
		for p.more() && p.peek() != '}' {
			p.pos++
		}
		if !p.more() {
			return nil, p.errorf("unterminated \\p{")
		}
		name := string(p.src[start:p.pos])
		p.pos++
		if !p.collapsed {
			return nil, p.errorf("\\p{%s} outside collapsed mode", name)
		}
		c, ok := categoryClass(name)
		if !ok {
			return nil, p.errorf("unsupported category \\p{%s}", name)
		}
		return c, nil
	}
	if (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9') {
		return nil, p.errorf("unsupported escape \\%c", r)
	}
	return lit(r), nil
}

func (p *parser) parseClass() (*node, error) {
	c := &charClass{empty: true}
	if p.more() && p.peek() == '^' {
		c.neg = true
		p.pos++
	}
	first := true
	for {
		if !p.more() {
			return nil, p.errorf("missing ]")
		}
		r := p.next()
		if r == ']' && !first {
			break
		}
		first = false
		var lo rune
		if r == '\\' {
			e, err := p.parseEscape()
			if err != nil {
				return nil, err
			}
			single, ok := singleRune(e)
			if !ok {
				c.addClass(e)
				continue
			}
			lo = single
		} else {
			lo = r
		}
		// A range lo-hi, unless '-' is the last character of the class.
		if p.pos+1 < len(p.src) && p.peek() == '-' && p.src[p.pos+1] != ']' {
			p.pos++
			hr := p.next()
			hi := hr
			if hr == '\\' {
				e, err := p.parseEscape()
				if err != nil {
					return nil, err
				}
				single, ok := singleRune(e)
				if !ok {
					return nil, p.errorf("class escape as range end")
				}
				hi = single
			}
			if hi < lo {
				return nil, p.errorf("range %q-%q out of order", lo, hi)
			}
			c.addRange(lo, hi)
			continue
		}
		c.addRange(lo, lo)
	}
	c.finish()
	return &node{kind: nClass, cls: c}, nil
}

// singleRune reports whether c is a positive class of exactly one element.
func singleRune(c *charClass) (rune, bool) {
	if c.neg || len(c.high) > 1 {
		return 0, false
	}
	if len(c.high) == 1 {
		if c.high[0].lo != c.high[0].hi || c.low != [4]uint64{} {
			return 0, false
		}
		return c.high[0].lo, true
	}
	found, n := rune(-1), 0
	for i, w := range c.low {
		for b := 0; b < 64; b++ {
			if w&(1<<b) != 0 {
				found = rune(i*64 + b)
				n++
			}
		}
	}
	return found, n == 1
}

// nullable reports whether n can match the empty string.
func nullable(n *node) bool {
	switch n.kind {
	case nClass:
		return false
	case nConcat:
		for _, s := range n.subs {
			if !nullable(s) {
				return false
			}
		}
		return true
	case nAlt:
		for _, s := range n.subs {
			if nullable(s) {
				return true
			}
		}
		return false
	case nRepeat:
		return n.min == 0 || nullable(n.subs[0])
	}
	return true
}

// Program instructions.
type opcode uint8

const (
	opClass opcode = iota // match one element of cls
	opSplit               // try x, then y
	opJmp                 // go to x
	opMatch               // success
	opStar                // greedy run of cls, between min and max (-1: unbounded) elements
	opLook                // lookahead sub-program sub, negated if neg
	opPeek                // one-element lookahead on cls, negated if neg
	opBOL
	opEOL
	opWordB
	opNotWordB
)

type inst struct {
	op       opcode
	x, y     int
	min, max int
	neg      bool
	cls      *charClass
	sub      *program
}

// program is a compiled pattern.
type program struct {
	insts  []inst
	hasBOL bool // uses ^, whose outcome depends on where the search started

	// Memo layout (see memo): a slot for each opSplit and opLook, the opStar positions.
	splitSlot, lookSlot []int32
	nSplit, nLook       int
	stars               []int32
}

// compiledRegex is a compiled pre-tokenizer pattern.
type compiledRegex struct {
	pattern   string
	collapsed bool
	prog      *program
	first     *charClass // elements a match can start with, nil if unknown or nullable

	// A pattern that is one class repeated between runMin (>= 1) and runMax (-1: unbounded)
	// times, such as [\r\n] or \p{N}+, is matched by scanning without the machine.
	run            *charClass
	runMin, runMax int
}

// compileRegex compiles a pattern; collapsed selects llama.cpp's category-collapsed mode, which
// is chosen by usesCategories when the pattern comes from a pre-tokenizer table.
func compileRegex(pattern string) (*compiledRegex, error) {
	collapsed := usesCategories(pattern)
	p := &parser{src: []rune(pattern), collapsed: collapsed}
	if collapsed {
		for _, r := range p.src {
			if r >= 128 {
				return nil, fmt.Errorf("regex %q: unicode categories and non-ASCII characters together are not supported", pattern)
			}
		}
	}
	n, err := p.parseAlt()
	if err != nil {
		return nil, err
	}
	if p.more() {
		return nil, p.errorf("unbalanced )")
	}
	prog, err := compileProgram(n)
	if err != nil {
		return nil, fmt.Errorf("regex %q: %w", pattern, err)
	}
	re := &compiledRegex{pattern: pattern, collapsed: collapsed, prog: prog}
	if !nullable(n) {
		re.first = firstClass(n)
	}
	if in := prog.insts; len(in) == 2 && in[1].op == opMatch {
		switch {
		case in[0].op == opClass:
			re.run, re.runMin, re.runMax = in[0].cls, 1, 1
		case in[0].op == opStar && in[0].min >= 1:
			re.run, re.runMin, re.runMax = in[0].cls, in[0].min, in[0].max
		}
	}
	return re, nil
}

// firstClass returns a class containing the first element of every non-empty match of n, or
// nil when that is not known.
func firstClass(n *node) *charClass {
	switch n.kind {
	case nClass:
		return n.cls
	case nRepeat:
		return firstClass(n.subs[0])
	case nConcat:
		out := &charClass{}
		for _, s := range n.subs {
			switch s.kind {
			case nLook, nWordB, nNotWordB, nBOL, nEOL, nEmpty:
				continue
			}
			f := firstClass(s)
			if f == nil {
				return nil
			}
			out.addClass(f)
			if !nullable(s) {
				break
			}
		}
		out.finish()
		return out
	case nAlt:
		out := &charClass{}
		for _, s := range n.subs {
			f := firstClass(s)
			if f == nil {
				return nil
			}
			out.addClass(f)
		}
		out.finish()
		return out
	case nLook, nWordB, nNotWordB, nBOL, nEOL, nEmpty:
		return &charClass{}
	}
	return nil
}

func compileProgram(n *node) (*program, error) {
	c := &compiler{}
	if err := c.emit(n); err != nil {
		return nil, err
	}
	c.add(inst{op: opMatch})
	if len(c.prog.insts) > 1<<20 {
		return nil, fmt.Errorf("program too large")
	}
	p := &c.prog
	p.splitSlot, p.lookSlot = make([]int32, len(p.insts)), make([]int32, len(p.insts))
	for i, in := range p.insts {
		p.splitSlot[i], p.lookSlot[i] = -1, -1
		switch in.op {
		case opBOL:
			p.hasBOL = true
		case opSplit:
			p.splitSlot[i] = int32(p.nSplit)
			p.nSplit++
		case opLook:
			p.lookSlot[i] = int32(p.nLook)
			p.nLook++
		case opStar:
			p.stars = append(p.stars, int32(i))
		}
	}
	return p, nil
}

type compiler struct{ prog program }

func (c *compiler) add(i inst) int {
	c.prog.insts = append(c.prog.insts, i)
	return len(c.prog.insts) - 1
}

func (c *compiler) emit(n *node) error {
	if len(c.prog.insts) > 1<<20 {
		return fmt.Errorf("program too large")
	}
	switch n.kind {
	case nEmpty:
	case nClass:
		c.add(inst{op: opClass, cls: n.cls})
	case nConcat:
		for _, s := range n.subs {
			if err := c.emit(s); err != nil {
				return err
			}
		}
	case nAlt:
		var jumps []int
		for i, s := range n.subs {
			if i < len(n.subs)-1 {
				split := c.add(inst{op: opSplit})
				c.prog.insts[split].x = split + 1
				if err := c.emit(s); err != nil {
					return err
				}
				jumps = append(jumps, c.add(inst{op: opJmp}))
				c.prog.insts[split].y = len(c.prog.insts)
			} else if err := c.emit(s); err != nil {
				return err
			}
		}
		for _, j := range jumps {
			c.prog.insts[j].x = len(c.prog.insts)
		}
	case nLook:
		body := n.subs[0]
		if body.kind == nClass {
			c.add(inst{op: opPeek, cls: body.cls, neg: n.neg})
			return nil
		}
		sub, err := compileProgram(body)
		if err != nil {
			return err
		}
		c.add(inst{op: opLook, sub: sub, neg: n.neg})
	case nBOL:
		c.add(inst{op: opBOL})
	case nEOL:
		c.add(inst{op: opEOL})
	case nWordB:
		c.add(inst{op: opWordB})
	case nNotWordB:
		c.add(inst{op: opNotWordB})
	case nRepeat:
		body := n.subs[0]
		if body.kind == nClass && n.greedy {
			c.add(inst{op: opStar, cls: body.cls, min: n.min, max: n.max})
			return nil
		}
		if nullable(body) && n.max != n.min {
			return fmt.Errorf("quantified sub-pattern can match empty text")
		}
		for i := 0; i < n.min; i++ {
			if err := c.emit(body); err != nil {
				return err
			}
		}
		if n.max == -1 {
			split := c.add(inst{op: opSplit})
			if err := c.emit(body); err != nil {
				return err
			}
			c.add(inst{op: opJmp, x: split})
			c.setSplit(split, split+1, len(c.prog.insts), n.greedy)
			return nil
		}
		var splits []int
		for i := n.min; i < n.max; i++ {
			splits = append(splits, c.add(inst{op: opSplit}))
			if err := c.emit(body); err != nil {
				return err
			}
		}
		end := len(c.prog.insts)
		for _, s := range splits {
			c.setSplit(s, s+1, end, n.greedy)
		}
	default:
		return fmt.Errorf("unknown node")
	}
	return nil
}

func (c *compiler) setSplit(at, body, exit int, greedy bool) {
	if greedy {
		c.prog.insts[at].x, c.prog.insts[at].y = body, exit
	} else {
		c.prog.insts[at].x, c.prog.insts[at].y = exit, body
	}
}

// Backtracking machine.

type btKind uint8

const (
	btState btKind = iota // resume at pc, pos
	btStar                // resume at pc (after an opStar) with pos, then pos-1 ... down to lo
)

type btEntry struct {
	kind btKind
	pc   int32
	pos  int32
	lo   int32
}

// matcher holds the scratch space of one search; it is not safe for concurrent use.
type matcher struct {
	stack []btEntry
	memo  memo
	steps int  // work done, for tests that check the cost grows linearly
	plain bool // no memo (tests compare both)
}

// memo remembers, while one fragment is being split, what earlier match attempts learned, so
// that retrying the pattern at every start position of a long run stays linear (a match attempt
// from a state depends only on the state and its position, not on where the attempt started;
// see RE2's bit-state backtracker). It is used for searches that accept empty matches, with
// programs without ^.
//   - split states (pc, pos) already entered are failures: had they succeeded, the search would
//     have returned;
//   - for each opStar, the last run scanned (a run's end does not depend on where in it the scan
//     starts) and an interval of continuation positions already tried;
//   - for each top-level lookahead, its result at each position.
//
// After a match ending at e, states at e are forgotten: later searches start at e and may reach
// them, and they were on the successful path; states before e are never reached again.
type memo struct {
	on, ready     bool
	prog          *program
	lo, width     int
	splitSlot     []int32  // per instruction: slot in splitBits, -1 if not an opSplit
	splitBits     []uint64 // slot*width + (pos-lo)
	lookSlot      []int32  // per instruction: slot in lookBits, -1 if not an opLook
	lookBits      []uint64 // 2 bits per (slot, pos): known, result
	runFrom       []int32  // per instruction (opStar): the last run scanned started here...
	runEnd        []int32  // ...and ended here (-1: none)
	triedLo       []int32  // per instruction (opStar): continuations in [triedLo, triedHi] were tried
	triedHi       []int32
	nSplit, nLook int
}

// reset prepares the memo for prog over the fragment [lo, hi]. The work is done lazily, by
// prepare, before the first match attempt in the fragment: most fragments need none.
func (mm *memo) reset(prog *program, lo, hi int) {
	mm.on = !prog.hasBOL && len(prog.insts) > 0
	mm.prog, mm.lo, mm.width, mm.ready = prog, lo, hi-lo+1, false
}

// prepare clears what the memo learned in the previous fragment.
func (mm *memo) prepare() {
	mm.ready = true
	prog := mm.prog
	n := len(prog.insts)
	if cap(mm.runFrom) < n {
		mm.runFrom, mm.runEnd = make([]int32, n), make([]int32, n)
		mm.triedLo, mm.triedHi = make([]int32, n), make([]int32, n)
	}
	mm.runFrom, mm.runEnd = mm.runFrom[:n], mm.runEnd[:n]
	mm.triedLo, mm.triedHi = mm.triedLo[:n], mm.triedHi[:n]
	for _, pc := range prog.stars {
		mm.runEnd[pc], mm.triedLo[pc], mm.triedHi[pc] = -1, 0, -1
	}
	mm.splitSlot, mm.lookSlot = prog.splitSlot, prog.lookSlot
	mm.nSplit, mm.nLook = prog.nSplit, prog.nLook
	clearBits := func(b []uint64, bits int) []uint64 {
		words := (bits + 63) / 64
		if cap(b) < words {
			return make([]uint64, words)
		}
		b = b[:words]
		clear(b)
		return b
	}
	mm.splitBits = clearBits(mm.splitBits, mm.nSplit*mm.width)
	mm.lookBits = clearBits(mm.lookBits, 2*mm.nLook*mm.width)
}

// visitSplit reports whether split state (pc, p) was entered before, and marks it.
func (mm *memo) visitSplit(pc, p int) bool {
	i := int(mm.splitSlot[pc])*mm.width + p - mm.lo
	w, b := i>>6, uint64(1)<<(i&63)
	if mm.splitBits[w]&b != 0 {
		return true
	}
	mm.splitBits[w] |= b
	return false
}

// matched forgets what was learned at the end position e of a match.
func (mm *memo) matched(e int) {
	for s := 0; s < mm.nSplit; s++ {
		i := s*mm.width + e - mm.lo
		mm.splitBits[i>>6] &^= 1 << (i & 63)
	}
	// Of the continuation positions tried, only e can be on the successful path and reached
	// again (positions before e never are), so keep those after e.
	for _, pc := range mm.prog.stars {
		if int(mm.triedLo[pc]) <= e && e <= int(mm.triedHi[pc]) {
			mm.triedLo[pc] = int32(e + 1)
		}
	}
}

// nextCandidate returns the highest continuation position q <= hiQ, >= loQ, of the opStar at
// pc not yet tried, marking it tried, or -1.
func (mm *memo) nextCandidate(pc, hiQ, loQ int) int {
	q := hiQ
	tl, th := int(mm.triedLo[pc]), int(mm.triedHi[pc])
	if q <= th && q >= tl {
		q = tl - 1
	}
	if q < loQ {
		return -1
	}
	if q == tl-1 && th >= tl {
		mm.triedLo[pc] = int32(q)
	} else {
		mm.triedLo[pc], mm.triedHi[pc] = int32(q), int32(q)
	}
	return q
}

func isWordElem(r rune) bool {
	return r == '_' || (r >= '0' && r <= '9') || (r >= 'A' && r <= 'Z') || (r >= 'a' && r <= 'z')
}

// matchAt runs prog anchored at pos within text[lo:hi] and returns the end of the first match
// in priority order. bol reports whether ^ may match at lo. notNull rejects empty matches.
// mm, when not nil, is the memo of the current fragment (top-level searches only).
func (m *matcher) matchAt(prog *program, text []rune, lo, hi, pos int, bol, notNull bool, mm *memo) (int, bool) {
	base := len(m.stack)
	m.stack = append(m.stack, btEntry{kind: btState, pc: 0, pos: int32(pos)})
	insts := prog.insts
	for len(m.stack) > base {
		e := m.stack[len(m.stack)-1]
		m.stack = m.stack[:len(m.stack)-1]
		pc, p := int(e.pc), int(e.pos)
		if e.kind == btStar {
			if mm != nil {
				if p = mm.nextCandidate(pc-1, p, int(e.lo)); p < 0 {
					continue
				}
			}
			if p > int(e.lo) {
				m.stack = append(m.stack, btEntry{kind: btStar, pc: e.pc, pos: int32(p - 1), lo: e.lo})
			}
		}
	run:
		for {
			m.steps++
			in := &insts[pc]
			switch in.op {
			case opClass:
				if p < hi && in.cls.has(text[p]) {
					p++
					pc++
					continue
				}
				break run
			case opStar:
				var k int
				switch {
				case mm == nil:
					for p+k < hi && (in.max < 0 || k < in.max) && in.cls.has(text[p+k]) {
						k++
					}
					m.steps += k
				case mm.runEnd[pc] >= 0 && int(mm.runFrom[pc]) <= p && p <= int(mm.runEnd[pc]):
					k = int(mm.runEnd[pc]) - p
				default:
					// Scan the whole run once; later entries into it cost nothing.
					for p+k < hi && in.cls.has(text[p+k]) {
						k++
					}
					m.steps += k
					mm.runFrom[pc], mm.runEnd[pc] = int32(p), int32(p+k)
				}
				if in.max >= 0 {
					k = min(k, in.max)
				}
				if k < in.min {
					break run
				}
				q := p + k
				if mm != nil {
					if q = mm.nextCandidate(pc, p+k, p+in.min); q < 0 {
						break run
					}
				}
				if q > p+in.min {
					m.stack = append(m.stack, btEntry{kind: btStar, pc: int32(pc + 1), pos: int32(q - 1), lo: int32(p + in.min)})
				}
				p = q
				pc++
			case opSplit:
				if mm != nil && mm.visitSplit(pc, p) {
					break run
				}
				m.stack = append(m.stack, btEntry{kind: btState, pc: int32(in.y), pos: int32(p)})
				pc = in.x
			case opJmp:
				pc = in.x
			case opMatch:
				if notNull && p == pos {
					break run
				}
				m.stack = m.stack[:base]
				return p, true
			case opPeek:
				ok := p < hi && in.cls.has(text[p])
				if ok == in.neg {
					break run
				}
				pc++
			case opLook:
				var ok bool
				if mm != nil {
					i := 2 * (int(mm.lookSlot[pc])*mm.width + p - mm.lo)
					if mm.lookBits[i>>6]&(1<<(i&63)) != 0 {
						ok = mm.lookBits[(i+1)>>6]&(1<<((i+1)&63)) != 0
					} else {
						_, ok = m.matchAt(in.sub, text, lo, hi, p, bol, false, nil)
						mm.lookBits[i>>6] |= 1 << (i & 63)
						if ok {
							mm.lookBits[(i+1)>>6] |= 1 << ((i + 1) & 63)
						}
					}
				} else {
					_, ok = m.matchAt(in.sub, text, lo, hi, p, bol, false, nil)
				}
				if ok == in.neg {
					break run
				}
				pc++
			case opBOL:
				if !(bol && p == lo) {
					break run
				}
				pc++
			case opEOL:
				if p != hi {
					break run
				}
				pc++
			case opWordB, opNotWordB:
				a := p > lo && isWordElem(text[p-1])
				b := p < hi && isWordElem(text[p])
				if (a != b) != (in.op == opWordB) {
					break run
				}
				pc++
			}
		}
	}
	return 0, false
}

// search finds the leftmost match starting at or after from in text[lo:hi].
func (m *matcher) search(re *compiledRegex, text []rune, lo, hi, from int, bol, notNull, continuous bool) (int, int, bool) {
	if c := re.run; c != nil {
		for s := from; s < hi; s++ {
			k := 0
			for s+k < hi && (re.runMax < 0 || k < re.runMax) && c.has(text[s+k]) {
				k++
			}
			m.steps += k + 1
			if k >= re.runMin {
				return s, s + k, true
			}
			if continuous {
				break
			}
		}
		return 0, 0, false
	}
	var mm *memo
	if m.memo.on && !notNull && !m.plain {
		mm = &m.memo
		if !mm.ready {
			mm.prepare()
		}
	}
	for s := from; s <= hi; s++ {
		m.steps++
		if re.first != nil {
			if s >= hi {
				break
			}
			if !re.first.has(text[s]) {
				if continuous {
					break
				}
				continue
			}
		}
		if e, ok := m.matchAt(re.prog, text, lo, hi, s, bol, notNull, mm); ok {
			if mm != nil {
				mm.matched(e)
			}
			return s, e, true
		}
		if continuous {
			break
		}
	}
	return 0, 0, false
}

// split cuts each fragment of frags at the matches of re, the way llama.cpp iterates
// std::regex matches over a fragment: a match is a fragment, and so is the text between two
// matches. Empty fragments are dropped.
func (re *compiledRegex) split(m *matcher, text []rune, frags []span, out []span) []span {
	for _, f := range frags {
		lo, hi := f.start, f.end
		if re.run == nil {
			m.memo.reset(re.prog, lo, hi)
		}
		gap := lo
		from := lo
		first := true
		for from <= hi {
			s, e, ok := m.search(re, text, lo, hi, from, first, false, false)
			if !ok {
				break
			}
			first = false
			if s > gap {
				out = append(out, span{gap, s})
			}
			if e > s {
				out = append(out, span{s, e})
			}
			gap = e
			if e > s {
				from = e
				continue
			}
			// Empty match: std::regex_iterator tries a non-empty match at the same place, then
			// moves one element on.
			if e == hi {
				break
			}
			if s2, e2, ok := m.search(re, text, lo, hi, e, false, true, true); ok {
				out = append(out, span{s2, e2})
				gap = e2
				from = e2
				continue
			}
			from = e + 1
		}
		if gap < hi {
			out = append(out, span{gap, hi})
		}
	}
	return out
}
