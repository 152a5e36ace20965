package datasets

import (
	"fmt"
	"math"
	"sort"
	"strconv"
	"strings"
)

// Record is one row of a dataset.
//
// Fields holds the selected columns as plain Go values, one of: nil (null or absent), bool,
// int64 (every integer type), float64 (every float type; a float32 is stored as its exact
// float64 value), string, []byte (binary columns), []any (lists) and map[string]any (structs
// and JSON objects). Values do not alias reader buffers and stay valid after Close.
type Record struct {
	// Text is the document text: the text column rendered to a string (chat message lists
	// are rendered by Options.ChatFormat). Empty when the dataset has no text column.
	Text string
	// Fields maps column names to values; see the type documentation for the value types.
	Fields map[string]any
	// Source is the file the record came from.
	Source string
	// Row is the 0-based index of the record within Source.
	Row int64
	// Line is the 1-based line where the record starts, for text and JSON Lines files;
	// 0 for columnar formats.
	Line int64
}

// where names the record's position for error messages: "file.jsonl: line 12" or
// "file.parquet: row 7".
func (r *Record) where() string {
	if r.Line > 0 {
		return fmt.Sprintf("%s: line %d", r.Source, r.Line)
	}
	return fmt.Sprintf("%s: row %d", r.Source, r.Row)
}

// Get returns the value at path: a field name, optionally followed by dot-separated struct
// keys or list indices ("choices.text", "endings.0", "messages.1.content"). A field whose name
// itself contains dots is found when the whole path matches it exactly. The error names the
// record's file and row and lists the keys that do exist.
func (r *Record) Get(path string) (any, error) {
	if v, ok := r.Fields[path]; ok {
		return v, nil
	}
	parts := strings.Split(path, ".")
	var cur any = map[string]any(r.Fields)
	for i, p := range parts {
		switch c := cur.(type) {
		case map[string]any:
			v, ok := c[p]
			if !ok {
				return nil, fmt.Errorf("datasets: %s: field %q not found (available: %s)",
					r.where(), strings.Join(parts[:i+1], "."), strings.Join(sortedKeys(c), ", "))
			}
			cur = v
		case []any:
			n, err := strconv.Atoi(p)
			if err != nil || n < 0 || n >= len(c) {
				return nil, fmt.Errorf("datasets: %s: field %q: index %q out of range (list of %d)",
					r.where(), strings.Join(parts[:i], "."), p, len(c))
			}
			cur = c[n]
		default:
			return nil, fmt.Errorf("datasets: %s: field %q is %s, not a struct or list",
				r.where(), strings.Join(parts[:i], "."), typeName(cur))
		}
	}
	return cur, nil
}

// String returns the value at path (see [Record.Get]) as a string. Strings and []byte are
// returned as they are, numbers and bools formatted; nil, lists and structs are errors.
func (r *Record) String(path string) (string, error) {
	v, err := r.Get(path)
	if err != nil {
		return "", err
	}
	switch x := v.(type) {
	case string:
		return x, nil
	case []byte:
		return string(x), nil
	case int64, float64, bool:
		return scalarString(x), nil
	}
	return "", fmt.Errorf("datasets: %s: field %q is %s, not a string", r.where(), path, typeName(v))
}

// Int returns the value at path as an integer. Integers are returned as they are; floats with
// an integral value and strings holding a decimal integer (HellaSwag stores its label as "2")
// are converted; anything else is an error.
func (r *Record) Int(path string) (int64, error) {
	v, err := r.Get(path)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case int64:
		return x, nil
	case float64:
		if x == math.Trunc(x) && math.Abs(x) < 1<<63 {
			return int64(x), nil
		}
	case bool:
		if x {
			return 1, nil
		}
		return 0, nil
	case string:
		if n, err := strconv.ParseInt(strings.TrimSpace(x), 10, 64); err == nil {
			return n, nil
		}
	}
	return 0, fmt.Errorf("datasets: %s: field %q is %s %s, not an integer", r.where(), path, typeName(v), quoteShort(v))
}

// Float returns the value at path as a float64: floats and integers as they are, strings
// parsed as decimal numbers; anything else is an error.
func (r *Record) Float(path string) (float64, error) {
	v, err := r.Get(path)
	if err != nil {
		return 0, err
	}
	switch x := v.(type) {
	case float64:
		return x, nil
	case int64:
		return float64(x), nil
	case string:
		if f, err := strconv.ParseFloat(strings.TrimSpace(x), 64); err == nil {
			return f, nil
		}
	}
	return 0, fmt.Errorf("datasets: %s: field %q is %s %s, not a number", r.where(), path, typeName(v), quoteShort(v))
}

// List returns the value at path as a list. A nil value is returned as an empty list.
func (r *Record) List(path string) ([]any, error) {
	v, err := r.Get(path)
	if err != nil {
		return nil, err
	}
	switch x := v.(type) {
	case []any:
		return x, nil
	case nil:
		return nil, nil
	}
	return nil, fmt.Errorf("datasets: %s: field %q is %s, not a list", r.where(), path, typeName(v))
}

// Strings returns the value at path as a list of strings (ARC's "choices.text", HellaSwag's
// "endings"). Each element must be a string, a number or a bool; a nil value gives an empty list.
func (r *Record) Strings(path string) ([]string, error) {
	l, err := r.List(path)
	if err != nil {
		return nil, err
	}
	out := make([]string, len(l))
	for i, v := range l {
		switch x := v.(type) {
		case string:
			out[i] = x
		case []byte:
			out[i] = string(x)
		case int64, float64, bool:
			out[i] = scalarString(x)
		default:
			return nil, fmt.Errorf("datasets: %s: field %q: element %d is %s, not a string", r.where(), path, i, typeName(v))
		}
	}
	return out, nil
}

// Messages returns the value at path as a chat conversation: a list of structs with "role"
// and "content" keys (or ShareGPT's "from" and "value").
func (r *Record) Messages(path string) ([]Message, error) {
	v, err := r.Get(path)
	if err != nil {
		return nil, err
	}
	msgs, ok := asMessages(v)
	if !ok {
		return nil, fmt.Errorf("datasets: %s: field %q is %s, not a list of {role, content}", r.where(), path, typeName(v))
	}
	return msgs, nil
}

// typeName names the dynamic type of a field value for error messages.
func typeName(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "a bool"
	case int64:
		return "an integer"
	case float64:
		return "a float"
	case string:
		return "a string"
	case []byte:
		return "binary"
	case []any:
		return "a list"
	case map[string]any:
		return "a struct"
	}
	return fmt.Sprintf("%T", v)
}

// quoteShort renders a scalar value for an error message, shortened.
func quoteShort(v any) string {
	s := fmt.Sprintf("%v", v)
	if str, ok := v.(string); ok {
		s = str
	}
	if len(s) > 40 {
		s = s[:40] + "…"
	}
	return strconv.Quote(s)
}

// scalarString formats a bool or number the way JSON would.
func scalarString(v any) string {
	switch x := v.(type) {
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		return strconv.FormatFloat(x, 'g', -1, 64)
	case bool:
		return strconv.FormatBool(x)
	}
	return fmt.Sprint(v)
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
