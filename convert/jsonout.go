package convert

import (
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// orderedJSON is a JSON object that keeps its keys in insertion order (setting an existing key
// replaces its value in place, like a Python dict).
type orderedJSON struct {
	keys []string
	vals map[string]any
}

func newOrdered() *orderedJSON { return &orderedJSON{vals: map[string]any{}} }

// set assigns key.
func (o *orderedJSON) set(key string, v any) {
	if _, ok := o.vals[key]; !ok {
		o.keys = append(o.keys, key)
	}
	o.vals[key] = v
}

// get returns the value of key.
func (o *orderedJSON) get(key string) (any, bool) { v, ok := o.vals[key]; return v, ok }

// pyJSON renders v the way Python's json.dumps(v, indent=2, sort_keys=sortKeys,
// ensure_ascii=ascii) does, with a trailing newline: maps (map[string]any) have their keys
// sorted when sortKeys, *orderedJSON objects keep their order, floats are written as Python's
// repr writes them.
func pyJSON(v any, sortKeys, ascii bool) ([]byte, error) {
	var b strings.Builder
	if err := writePyJSON(&b, v, 0, sortKeys, ascii); err != nil {
		return nil, err
	}
	b.WriteByte('\n')
	return []byte(b.String()), nil
}

func writePyJSON(b *strings.Builder, v any, depth int, sortKeys, ascii bool) error {
	indent := func(d int) {
		b.WriteByte('\n')
		for i := 0; i < d; i++ {
			b.WriteString("  ")
		}
	}
	writeObj := func(keys []string, get func(string) any) error {
		if len(keys) == 0 {
			b.WriteString("{}")
			return nil
		}
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteByte(',')
			}
			indent(depth + 1)
			b.WriteString(pyQuote(k, ascii))
			b.WriteString(": ")
			if err := writePyJSON(b, get(k), depth+1, sortKeys, ascii); err != nil {
				return err
			}
		}
		indent(depth)
		b.WriteByte('}')
		return nil
	}
	switch x := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		if x {
			b.WriteString("true")
		} else {
			b.WriteString("false")
		}
	case string:
		b.WriteString(pyQuote(x, ascii))
	case int:
		b.WriteString(strconv.Itoa(x))
	case int32:
		b.WriteString(strconv.FormatInt(int64(x), 10))
	case int64:
		b.WriteString(strconv.FormatInt(x, 10))
	case uint32:
		b.WriteString(strconv.FormatUint(uint64(x), 10))
	case uint64:
		b.WriteString(strconv.FormatUint(x, 10))
	case float32:
		b.WriteString(pyFloat(float64(x)))
	case float64:
		b.WriteString(pyFloat(x))
	case json.Number:
		b.WriteString(x.String())
	case []any:
		if len(x) == 0 {
			b.WriteString("[]")
			return nil
		}
		b.WriteByte('[')
		for i, e := range x {
			if i > 0 {
				b.WriteByte(',')
			}
			indent(depth + 1)
			if err := writePyJSON(b, e, depth+1, sortKeys, ascii); err != nil {
				return err
			}
		}
		indent(depth)
		b.WriteByte(']')
	case []string:
		a := make([]any, len(x))
		for i := range x {
			a[i] = x[i]
		}
		return writePyJSON(b, a, depth, sortKeys, ascii)
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		return writeObj(keys, func(k string) any { return x[k] })
	case *orderedJSON:
		keys := x.keys
		if sortKeys {
			keys = append([]string(nil), keys...)
			sort.Strings(keys)
		}
		return writeObj(keys, func(k string) any { return x.vals[k] })
	default:
		return fmt.Errorf("json: cannot encode %T", v)
	}
	return nil
}

// pyFloat formats f as Python's float repr: the shortest round-tripping digits, in fixed
// notation with a ".0" when the decimal exponent is in [-4, 16), scientific otherwise.
func pyFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d.ddde±XX
	mant, expS, _ := strings.Cut(s, "e")
	exp, _ := strconv.Atoi(expS)
	neg := strings.HasPrefix(mant, "-")
	mant = strings.TrimPrefix(mant, "-")
	digits := strings.Replace(mant, ".", "", 1)
	sign := ""
	if neg {
		sign = "-"
	}
	if exp < -4 || exp >= 16 {
		m := digits[:1]
		if len(digits) > 1 {
			m += "." + digits[1:]
		}
		es := fmt.Sprintf("%+03d", exp)
		return sign + m + "e" + es
	}
	if exp < 0 {
		return sign + "0." + strings.Repeat("0", -exp-1) + digits
	}
	if len(digits) <= exp+1 {
		return sign + digits + strings.Repeat("0", exp+1-len(digits)) + ".0"
	}
	return sign + digits[:exp+1] + "." + digits[exp+1:]
}

// pyQuote quotes s as Python's json module does (ensure_ascii escapes everything beyond ASCII
// as \uXXXX, with surrogate pairs).
func pyQuote(s string, ascii bool) string {
	const hex = "0123456789abcdef"
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch {
		case r == '"':
			b.WriteString(`\"`)
		case r == '\\':
			b.WriteString(`\\`)
		case r == '\n':
			b.WriteString(`\n`)
		case r == '\r':
			b.WriteString(`\r`)
		case r == '\t':
			b.WriteString(`\t`)
		case r == '\b':
			b.WriteString(`\b`)
		case r == '\f':
			b.WriteString(`\f`)
		case r < 0x20 || (ascii && r > 0x7e):
			u := func(x rune) {
				b.WriteString(`\u`)
				b.WriteByte(hex[x>>12&15])
				b.WriteByte(hex[x>>8&15])
				b.WriteByte(hex[x>>4&15])
				b.WriteByte(hex[x&15])
			}
			if r == utf8.RuneError {
				u(0xfffd)
			} else if r > 0xffff {
				r -= 0x10000
				u(0xd800 + (r >> 10))
				u(0xdc00 + (r & 0x3ff))
			} else {
				u(r)
			}
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}
