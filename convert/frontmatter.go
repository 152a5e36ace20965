package convert

import (
	"strconv"
	"strings"
)

// parseFrontMatter reads the YAML front matter of a model card (README.md between two "---"
// lines) into a map, as far as llama.cpp uses it: top-level keys with scalar values (kept as
// strings; null and empty values as nil), block lists ("- item") and flow lists ("[a, b]") of
// scalars. Nested mappings are skipped. It never fails: what it cannot read is left out.
func parseFrontMatter(text string) map[string]any {
	lines := strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n")
	if len(lines) == 0 || lines[0] != "---" {
		return nil
	}
	var body []string
	for _, l := range lines[1:] {
		if l == "---" {
			break
		}
		body = append(body, strings.ReplaceAll(l, "\t", "  "))
	}
	out := map[string]any{}
	for i := 0; i < len(body); i++ {
		line := body[i]
		if strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#") {
			continue
		}
		if line[0] == ' ' || line[0] == '-' {
			continue // belongs to a structure we skip
		}
		key, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		key = unquoteYAML(strings.TrimSpace(key))
		rest = strings.TrimSpace(stripYAMLComment(rest))
		if rest != "" {
			if strings.HasPrefix(rest, "[") && strings.HasSuffix(rest, "]") {
				var list []any
				for _, item := range splitFlow(rest[1 : len(rest)-1]) {
					if item = strings.TrimSpace(item); item != "" {
						list = append(list, scalarYAML(item))
					}
				}
				out[key] = list
			} else if strings.HasPrefix(rest, "{") || rest == "|" || rest == ">" || strings.HasPrefix(rest, "|") || strings.HasPrefix(rest, ">") {
				continue
			} else {
				out[key] = scalarYAML(rest)
			}
			continue
		}
		// A block list or a nested mapping follows.
		var list []any
		isList := false
		j := i + 1
		for ; j < len(body); j++ {
			l := body[j]
			t := strings.TrimSpace(l)
			if t == "" || strings.HasPrefix(t, "#") {
				continue
			}
			if l[0] != ' ' && l[0] != '-' {
				break
			}
			if strings.HasPrefix(t, "- ") || t == "-" {
				isList = true
				item := strings.TrimSpace(stripYAMLComment(strings.TrimPrefix(t, "-")))
				if strings.Contains(item, ": ") && !strings.HasPrefix(item, `"`) && !strings.HasPrefix(item, "'") {
					list = append(list, nil) // a mapping inside the list: skipped
					continue
				}
				list = append(list, scalarYAML(item))
			}
		}
		i = j - 1
		if isList {
			var clean []any
			for _, x := range list {
				if x != nil {
					clean = append(clean, x)
				}
			}
			out[key] = clean
		} else {
			out[key] = nil
		}
	}
	return out
}

// stripYAMLComment removes a " #" comment outside quotes.
func stripYAMLComment(s string) string {
	inS, inD := false, false
	for i, r := range s {
		switch {
		case r == '\'' && !inD:
			inS = !inS
		case r == '"' && !inS:
			inD = !inD
		case r == '#' && !inS && !inD && (i == 0 || s[i-1] == ' '):
			return s[:i]
		}
	}
	return s
}

// splitFlow splits the inside of a flow list on commas outside quotes.
func splitFlow(s string) []string {
	var out []string
	inS, inD, start := false, false, 0
	for i, r := range s {
		switch {
		case r == '\'' && !inD:
			inS = !inS
		case r == '"' && !inS:
			inD = !inD
		case r == ',' && !inS && !inD:
			out = append(out, s[start:i])
			start = i + 1
		}
	}
	return append(out, s[start:])
}

// scalarYAML converts a YAML scalar: null/~ become nil, quotes are removed, anything else is
// kept as its text.
func scalarYAML(s string) any {
	s = strings.TrimSpace(s)
	switch s {
	case "", "~", "null", "Null", "NULL":
		return nil
	}
	return unquoteYAML(s)
}

func unquoteYAML(s string) string {
	if len(s) >= 2 && s[0] == '"' && s[len(s)-1] == '"' {
		if u, err := strconv.Unquote(s); err == nil {
			return u
		}
		return s[1 : len(s)-1]
	}
	if len(s) >= 2 && s[0] == '\'' && s[len(s)-1] == '\'' {
		return strings.ReplaceAll(s[1:len(s)-1], "''", "'")
	}
	return s
}
