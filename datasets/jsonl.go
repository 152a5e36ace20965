package datasets

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
)

// jsonReader streams JSON Lines (one object per line; blank lines skipped) or a JSON array of
// objects.
type jsonReader struct {
	path   string
	opts   Options
	in     *byteStream
	array  *json.Decoder // non-nil in array mode
	sh     *shaper       // set from the first record
	cols   []Column
	line   int64
	row    int64
	done   bool
	closed bool
	err    error // final error
}

func openJSON(path string, f Format, opts Options) (Reader, error) {
	in, err := openByteStream(path)
	if err != nil {
		return nil, err
	}
	r := &jsonReader{path: path, opts: opts, in: in}
	if f == FormatJSON {
		// A JSON array starts with '[' after an optional UTF-8 BOM and whitespace.
		head, _ := in.Peek(4096)
		skip := 0
		if bytes.HasPrefix(head, []byte("\xef\xbb\xbf")) {
			skip = 3
		}
		for skip < len(head) && (head[skip] == ' ' || head[skip] == '\t' || head[skip] == '\r' || head[skip] == '\n') {
			skip++
		}
		if skip < len(head) && head[skip] == '[' {
			if _, err := in.Discard(skip); err != nil {
				in.Close()
				return nil, fmt.Errorf("datasets: %s: %w", path, err)
			}
			r.array = json.NewDecoder(in)
			r.array.UseNumber()
			if _, err := r.array.Token(); err != nil {
				in.Close()
				return nil, fmt.Errorf("datasets: %s: %w", path, err)
			}
		}
	}
	return r, nil
}

func (r *jsonReader) Columns() []Column {
	if r.sh == nil {
		return nil
	}
	return r.sh.selectColumns(r.cols)
}

func (r *jsonReader) Format() Format {
	if r.array != nil {
		return FormatJSON
	}
	return FormatJSONL
}

func (r *jsonReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.in.Close()
}

func (r *jsonReader) Next() (*Record, error) {
	if r.closed {
		return nil, ErrClosed
	}
	if r.err != nil {
		return nil, r.err
	}
	rec, err := r.next()
	if err != nil && err != io.EOF {
		r.err = err
	}
	return rec, err
}

func (r *jsonReader) next() (*Record, error) {
	if r.done {
		return nil, io.EOF
	}
	var (
		obj  map[string]any
		keys []string
		rec  *Record
		err  error
	)
	if r.array != nil {
		obj, keys, rec, err = r.nextElement()
	} else {
		obj, keys, rec, err = r.nextLine()
	}
	if err != nil {
		if err == io.EOF {
			r.done = true
		}
		return nil, err
	}
	rec.Fields = obj
	if r.sh == nil {
		r.cols = make([]Column, len(keys))
		for i, k := range keys {
			r.cols[i] = Column{Name: k, Type: jsonType(obj[k])}
		}
		r.sh, err = newShaper(rec.where(), r.cols, r.opts, "field")
		if err != nil {
			r.done = true
			return nil, err
		}
	} else {
		if err := r.checkFields(rec); err != nil {
			r.done = true
			return nil, err
		}
	}
	if err := r.sh.finish(rec); err != nil {
		r.done = true
		return nil, err
	}
	r.row++
	return rec, nil
}

// checkFields makes sure a record after the first has the selected and text fields.
func (r *jsonReader) checkFields(rec *Record) error {
	check := func(name, what string) error {
		if _, ok := rec.Fields[name]; !ok {
			return missingColumn(rec.where(), what, name, sortedKeys(rec.Fields))
		}
		return nil
	}
	for _, name := range r.opts.Columns {
		if err := check(name, "field"); err != nil {
			return err
		}
	}
	if r.opts.TextColumn != "" {
		return check(r.opts.TextColumn, "text field")
	}
	return nil
}

// nextLine decodes the next non-blank line.
func (r *jsonReader) nextLine() (map[string]any, []string, *Record, error) {
	for {
		b, err := readLine(r.in.Reader, false)
		if err == io.EOF {
			return nil, nil, nil, io.EOF
		}
		if err != nil {
			return nil, nil, nil, fmt.Errorf("datasets: %s: line %d: %w", r.path, r.line+1, err)
		}
		r.line++
		if r.line == 1 {
			b = bytes.TrimPrefix(b, []byte("\xef\xbb\xbf"))
		}
		if len(bytes.TrimSpace(b)) == 0 {
			continue
		}
		rec := &Record{Source: r.path, Row: r.row, Line: r.line}
		obj, keys, err := decodeObject(b, r.sh == nil)
		if err != nil {
			return nil, nil, nil, fmt.Errorf("datasets: %s: line %d: %w", r.path, r.line, err)
		}
		return obj, keys, rec, nil
	}
}

// nextElement decodes the next element of a JSON array.
func (r *jsonReader) nextElement() (map[string]any, []string, *Record, error) {
	if !r.array.More() {
		if _, err := r.array.Token(); err != nil { // the closing ']'
			return nil, nil, nil, fmt.Errorf("datasets: %s: byte %d: %w", r.path, r.array.InputOffset(), err)
		}
		return nil, nil, nil, io.EOF
	}
	off := r.array.InputOffset()
	var raw json.RawMessage
	if err := r.array.Decode(&raw); err != nil {
		return nil, nil, nil, fmt.Errorf("datasets: %s: array element %d (byte %d): %w", r.path, r.row, off, err)
	}
	obj, keys, err := decodeObject(raw, r.sh == nil)
	if err != nil {
		return nil, nil, nil, fmt.Errorf("datasets: %s: array element %d (byte %d): %w", r.path, r.row, off, err)
	}
	return obj, keys, &Record{Source: r.path, Row: r.row}, nil
}

// decodeObject parses one JSON object, normalizing numbers to int64 or float64. With
// wantKeys it also returns the top-level keys in document order.
func decodeObject(b []byte, wantKeys bool) (map[string]any, []string, error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, nil, fmt.Errorf("not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, nil, fmt.Errorf("not valid JSON: unexpected data after the object at byte %d", dec.InputOffset())
	}
	obj, ok := v.(map[string]any)
	if !ok {
		return nil, nil, fmt.Errorf("not a JSON object (found %s)", typeName(normalizeJSON(v)))
	}
	for k, x := range obj {
		obj[k] = normalizeJSON(x)
	}
	var keys []string
	if wantKeys {
		keys = objectKeys(b)
		if len(keys) != len(obj) { // duplicate keys: fall back on sorted order
			keys = sortedKeys(obj)
		}
	}
	return obj, keys, nil
}

// objectKeys lists the top-level keys of a JSON object in document order.
func objectKeys(b []byte) []string {
	dec := json.NewDecoder(bytes.NewReader(b))
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil
	}
	var keys []string
	seen := map[string]bool{}
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil
		}
		k, _ := t.(string)
		if !seen[k] {
			keys = append(keys, k)
			seen[k] = true
		}
		var skip json.RawMessage
		if err := dec.Decode(&skip); err != nil {
			return nil
		}
	}
	return keys
}

// normalizeJSON converts json.Number to int64 (when integral and in range) or float64,
// recursively.
func normalizeJSON(v any) any {
	switch x := v.(type) {
	case json.Number:
		if i, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			return i
		}
		f, err := strconv.ParseFloat(string(x), 64)
		if err != nil && !errors.Is(err, strconv.ErrRange) {
			return string(x)
		}
		return f
	case []any:
		for i := range x {
			x[i] = normalizeJSON(x[i])
		}
		return x
	case map[string]any:
		for k := range x {
			x[k] = normalizeJSON(x[k])
		}
		return x
	}
	return v
}

// jsonType names the type of a decoded JSON value for Column.Type.
func jsonType(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case int64:
		return "int"
	case float64:
		return "float"
	case string:
		return "string"
	case []any:
		for _, e := range x {
			if e != nil {
				return "list<" + jsonType(e) + ">"
			}
		}
		return "list<null>"
	case map[string]any:
		keys := make([]string, 0, len(x))
		for k := range x {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		parts := make([]string, len(keys))
		for i, k := range keys {
			parts[i] = k + ": " + jsonType(x[k])
		}
		return "struct<" + strings.Join(parts, ", ") + ">"
	}
	return fmt.Sprintf("%T", v)
}
