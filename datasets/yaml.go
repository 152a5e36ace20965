package datasets

import (
	"fmt"
	"strconv"
	"strings"
)

// This file parses the subset of YAML that Hugging Face dataset cards use in their README.md
// front matter: block mappings and sequences (including "- key: value" items and sequences
// written at their parent key's indentation), plain, single- and double-quoted scalars, flow
// sequences and mappings on one line, literal and folded block scalars, and comments. Values
// come back as map[string]any, []any and string. Anchors, tags and multi-document streams are
// not supported; the parser returns an error rather than guessing.

// maxYAMLDepth bounds the nesting the YAML parser accepts.
const maxYAMLDepth = 100

// yamlLine is one significant line of a YAML document.
type yamlLine struct {
	num    int    // 1-based line number in the document
	indent int    // leading spaces
	text   string // content without indentation and comment
	raw    string // the line as written, without the newline
}

type yamlParser struct {
	lines []yamlLine
	pos   int
	depth int
}

// frontMatter returns the YAML between a leading "---" line and the next "---" line of a
// README.md, and whether there is one.
func frontMatter(readme string) (string, bool) {
	readme = strings.TrimPrefix(readme, "\ufeff")
	lines := strings.SplitAfter(readme, "\n")
	if len(lines) == 0 || strings.TrimRight(lines[0], "\r\n ") != "---" {
		return "", false
	}
	var b strings.Builder
	for _, l := range lines[1:] {
		t := strings.TrimRight(l, "\r\n ")
		if t == "---" || t == "..." {
			return b.String(), true
		}
		b.WriteString(l)
	}
	return "", false
}

// parseYAML parses a YAML document of the supported subset.
func parseYAML(src string) (any, error) {
	p := &yamlParser{}
	for i, raw := range strings.Split(src, "\n") {
		raw = strings.TrimRight(raw, "\r")
		if strings.Contains(raw, "\t") && strings.TrimLeft(raw, " ") != strings.TrimLeft(raw, " \t") {
			return nil, fmt.Errorf("yaml: line %d: tab in indentation", i+1)
		}
		trimmed := strings.TrimLeft(raw, " ")
		p.lines = append(p.lines, yamlLine{num: i + 1, indent: len(raw) - len(trimmed), text: stripComment(trimmed), raw: raw})
	}
	p.skipBlank()
	if p.pos >= len(p.lines) {
		return nil, nil
	}
	v, err := p.block(p.lines[p.pos].indent)
	if err != nil {
		return nil, err
	}
	p.skipBlank()
	if p.pos < len(p.lines) {
		l := p.lines[p.pos]
		return nil, fmt.Errorf("yaml: line %d: unexpected indentation or content %q", l.num, l.text)
	}
	return v, nil
}

// stripComment removes a trailing "# comment" that is outside quotes.
func stripComment(s string) string {
	inSingle, inDouble := false, false
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\' && inDouble:
			i++
		case c == '\'' && !inDouble:
			inSingle = !inSingle
		case c == '"' && !inSingle:
			inDouble = !inDouble
		case c == '#' && !inSingle && !inDouble && (i == 0 || s[i-1] == ' ' || s[i-1] == '\t'):
			return strings.TrimRight(s[:i], " \t")
		}
	}
	return strings.TrimRight(s, " \t")
}

func (p *yamlParser) skipBlank() {
	for p.pos < len(p.lines) && p.lines[p.pos].text == "" {
		p.pos++
	}
}

// block parses the mapping or sequence whose lines start at indent.
func (p *yamlParser) block(indent int) (any, error) {
	p.depth++
	defer func() { p.depth-- }()
	if p.depth > maxYAMLDepth {
		return nil, fmt.Errorf("yaml: line %d: nested more than %d levels", p.lines[p.pos].num, maxYAMLDepth)
	}
	l := p.lines[p.pos]
	if isSeqItem(l.text) {
		return p.sequence(indent)
	}
	if _, _, ok := splitKey(l.text); ok {
		return p.mapping(indent)
	}
	// A lone scalar (possibly spanning lines).
	p.pos++
	return p.scalarWithContinuation(l.text, indent-1, l.num)
}

func isSeqItem(t string) bool { return t == "-" || strings.HasPrefix(t, "- ") }

// sequence parses "- item" lines at indent.
func (p *yamlParser) sequence(indent int) ([]any, error) {
	out := []any{}
	for {
		p.skipBlank()
		if p.pos >= len(p.lines) {
			return out, nil
		}
		l := p.lines[p.pos]
		if l.indent != indent || !isSeqItem(l.text) {
			if l.indent > indent {
				return nil, fmt.Errorf("yaml: line %d: unexpected indentation", l.num)
			}
			return out, nil
		}
		rest := strings.TrimLeft(strings.TrimPrefix(l.text, "-"), " ")
		if rest == "" {
			p.pos++
			p.skipBlank()
			if p.pos < len(p.lines) && p.lines[p.pos].indent > indent {
				v, err := p.block(p.lines[p.pos].indent)
				if err != nil {
					return nil, err
				}
				out = append(out, v)
			} else {
				out = append(out, nil)
			}
			continue
		}
		// "- key: value" or "- - x": the item is a block starting inside this line.
		_, _, isKey := splitKey(rest)
		if isKey || isSeqItem(rest) {
			offset := indent + (len(l.text) - len(rest))
			p.lines[p.pos] = yamlLine{num: l.num, indent: offset, text: rest, raw: l.raw}
			v, err := p.block(offset)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
			continue
		}
		p.pos++
		v, err := p.scalarWithContinuation(rest, indent, l.num)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
}

// mapping parses "key: value" lines at indent.
func (p *yamlParser) mapping(indent int) (map[string]any, error) {
	out := map[string]any{}
	for {
		p.skipBlank()
		if p.pos >= len(p.lines) {
			return out, nil
		}
		l := p.lines[p.pos]
		if l.indent < indent || (l.indent == indent && isSeqItem(l.text)) {
			return out, nil
		}
		if l.indent > indent {
			return nil, fmt.Errorf("yaml: line %d: unexpected indentation", l.num)
		}
		key, val, ok := splitKey(l.text)
		if !ok {
			return nil, fmt.Errorf("yaml: line %d: expected \"key: value\", found %q", l.num, l.text)
		}
		p.pos++
		var v any
		var err error
		switch {
		case val == "":
			p.skipBlank()
			if p.pos < len(p.lines) {
				n := p.lines[p.pos]
				if n.indent > indent || (n.indent == indent && isSeqItem(n.text)) {
					v, err = p.block(n.indent)
				}
			}
		case isBlockScalarHeader(val):
			v = p.blockScalar(val, indent)
		default:
			v, err = p.scalarWithContinuation(val, indent, l.num)
		}
		if err != nil {
			return nil, err
		}
		out[key] = v
	}
}

// splitKey splits "key: value" (or "key:") outside quotes and flow brackets.
func splitKey(t string) (key, val string, ok bool) {
	if t == "" || t[0] == '[' || t[0] == '{' || t[0] == '|' || t[0] == '>' || isSeqItem(t) {
		return "", "", false
	}
	if t[0] == '"' || t[0] == '\'' {
		k, n, err := quoted(t)
		if err != nil {
			return "", "", false
		}
		rest := strings.TrimLeft(t[n:], " ")
		if rest == ":" {
			return k, "", true
		}
		if strings.HasPrefix(rest, ": ") {
			return k, strings.TrimSpace(rest[2:]), true
		}
		return "", "", false
	}
	for i := 0; i < len(t); i++ {
		if t[i] == ':' && (i == len(t)-1 || t[i+1] == ' ') {
			return strings.TrimRight(t[:i], " "), strings.TrimSpace(t[i+1:]), true
		}
	}
	return "", "", false
}

func isBlockScalarHeader(v string) bool {
	if v == "" || (v[0] != '|' && v[0] != '>') {
		return false
	}
	for _, c := range v[1:] {
		if c != '-' && c != '+' && (c < '1' || c > '9') {
			return false
		}
	}
	return true
}

// blockScalar reads the lines of a literal (|) or folded (>) scalar indented more than parent.
func (p *yamlParser) blockScalar(header string, parent int) string {
	var lines []string
	ind := -1
	for p.pos < len(p.lines) {
		l := p.lines[p.pos]
		if strings.TrimSpace(l.raw) == "" {
			lines = append(lines, "")
			p.pos++
			continue
		}
		if l.indent <= parent {
			break
		}
		if ind < 0 {
			ind = l.indent
		}
		cut := min(ind, l.indent)
		lines = append(lines, l.raw[cut:])
		p.pos++
	}
	for len(lines) > 0 && lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	sep := "\n"
	if header[0] == '>' {
		sep = " "
	}
	s := strings.Join(lines, sep)
	if !strings.Contains(header, "-") && s != "" {
		s += "\n"
	}
	return s
}

// scalarWithContinuation parses a scalar that may continue on following lines indented more
// than parent (plain multi-line scalars are folded with spaces).
func (p *yamlParser) scalarWithContinuation(s string, parent, num int) (any, error) {
	if s[0] != '"' && s[0] != '\'' && s[0] != '[' && s[0] != '{' {
		for p.pos < len(p.lines) {
			l := p.lines[p.pos]
			if l.text == "" || l.indent <= parent {
				break
			}
			if _, _, isKey := splitKey(l.text); isKey {
				return nil, fmt.Errorf("yaml: line %d: unexpected indentation", l.num)
			}
			s += " " + l.text
			p.pos++
		}
	}
	v, n, err := flowValue(s, 0)
	if err != nil {
		return nil, fmt.Errorf("yaml: line %d: %w", num, err)
	}
	if strings.TrimSpace(s[n:]) != "" {
		return nil, fmt.Errorf("yaml: line %d: unexpected %q after value", num, strings.TrimSpace(s[n:]))
	}
	return v, nil
}

// flowValue parses a scalar, [flow, sequence] or {flow: mapping} starting at s[i:] and
// returns the value and the index just after it.
func flowValue(s string, depth int) (any, int, error) {
	if depth > maxYAMLDepth {
		return nil, 0, fmt.Errorf("flow collection nested more than %d levels", maxYAMLDepth)
	}
	i := 0
	for i < len(s) && s[i] == ' ' {
		i++
	}
	if i >= len(s) {
		return "", i, nil
	}
	switch s[i] {
	case '"', '\'':
		v, n, err := quoted(s[i:])
		return v, i + n, err
	case '[':
		var out []any
		j := i + 1
		for {
			for j < len(s) && s[j] == ' ' {
				j++
			}
			if j >= len(s) {
				return nil, 0, fmt.Errorf("unterminated flow sequence")
			}
			if s[j] == ']' {
				return nonNilList(out), j + 1, nil
			}
			v, n, err := flowValue(s[j:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			out = append(out, v)
			j += n
			for j < len(s) && s[j] == ' ' {
				j++
			}
			if j < len(s) && s[j] == ',' {
				j++
			} else if j >= len(s) || s[j] != ']' {
				return nil, 0, fmt.Errorf("expected ',' or ']' in flow sequence")
			}
		}
	case '{':
		out := map[string]any{}
		j := i + 1
		for {
			for j < len(s) && s[j] == ' ' {
				j++
			}
			if j >= len(s) {
				return nil, 0, fmt.Errorf("unterminated flow mapping")
			}
			if s[j] == '}' {
				return out, j + 1, nil
			}
			k, n, err := flowValue(s[j:], depth+1)
			if err != nil {
				return nil, 0, err
			}
			key, ok := k.(string)
			if !ok {
				return nil, 0, fmt.Errorf("flow mapping key must be a scalar")
			}
			j += n
			for j < len(s) && s[j] == ' ' {
				j++
			}
			var v any
			if j < len(s) && s[j] == ':' {
				v, n, err = flowValue(s[j+1:], depth+1)
				if err != nil {
					return nil, 0, err
				}
				j += 1 + n
			}
			out[key] = v
			for j < len(s) && s[j] == ' ' {
				j++
			}
			if j < len(s) && s[j] == ',' {
				j++
			} else if j >= len(s) || s[j] != '}' {
				return nil, 0, fmt.Errorf("expected ',' or '}' in flow mapping")
			}
		}
	}
	// A plain scalar: up to the end, or to a flow delimiter when inside a collection.
	j := i
	for j < len(s) {
		c := s[j]
		if depth > 0 && (c == ',' || c == ']' || c == '}' || (c == ':' && (j+1 == len(s) || s[j+1] == ' '))) {
			break
		}
		j++
	}
	return strings.TrimSpace(s[i:j]), j, nil
}

func nonNilList(l []any) []any {
	if l == nil {
		return []any{}
	}
	return l
}

// quoted parses a single- or double-quoted scalar at the start of s and returns it and the
// number of bytes consumed.
func quoted(s string) (string, int, error) {
	q := s[0]
	var b strings.Builder
	for i := 1; i < len(s); i++ {
		c := s[i]
		switch {
		case q == '\'' && c == '\'':
			if i+1 < len(s) && s[i+1] == '\'' {
				b.WriteByte('\'')
				i++
				continue
			}
			return b.String(), i + 1, nil
		case q == '"' && c == '"':
			return b.String(), i + 1, nil
		case q == '"' && c == '\\':
			if i+1 >= len(s) {
				return "", 0, fmt.Errorf("unterminated escape")
			}
			i++
			switch e := s[i]; e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case '"', '\\', '/', ' ':
				b.WriteByte(e)
			case 'x', 'u', 'U':
				n := map[byte]int{'x': 2, 'u': 4, 'U': 8}[e]
				if i+1+n > len(s) {
					return "", 0, fmt.Errorf("short \\%c escape", e)
				}
				r, err := strconv.ParseUint(s[i+1:i+1+n], 16, 32)
				if err != nil {
					return "", 0, fmt.Errorf("bad \\%c escape", e)
				}
				b.WriteRune(rune(r))
				i += n
			default:
				return "", 0, fmt.Errorf("unknown escape \\%c", e)
			}
		default:
			b.WriteByte(c)
		}
	}
	return "", 0, fmt.Errorf("unterminated quoted string")
}
