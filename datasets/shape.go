package datasets

import (
	"bufio"
	"compress/gzip"
	"fmt"
	"io"
	"os"
	"slices"
)

// shaper applies the options that every reader shares to a decoded row: it renders the text
// column into Record.Text and drops columns that were read only for the text.
type shaper struct {
	text string          // column rendered into Record.Text; "" for none
	keep map[string]bool // columns kept in Fields; nil keeps all
	chat ChatFormat
}

// newShaper validates opts.Columns and opts.TextColumn against the dataset's columns and
// picks the text column. what names the thing being checked for errors ("column", "field").
func newShaper(path string, cols []Column, opts Options, what string) (*shaper, error) {
	names := make([]string, len(cols))
	for i, c := range cols {
		names[i] = c.Name
	}
	s := &shaper{chat: opts.ChatFormat}
	selected := cols
	if opts.Columns != nil {
		s.keep = make(map[string]bool, len(opts.Columns))
		selected = nil
		for _, name := range opts.Columns {
			i := slices.Index(names, name)
			if i < 0 {
				return nil, missingColumn(path, what, name, names)
			}
			s.keep[name] = true
			selected = append(selected, cols[i])
		}
	}
	if opts.TextColumn != "" {
		if !slices.Contains(names, opts.TextColumn) {
			return nil, missingColumn(path, "text "+what, opts.TextColumn, names)
		}
		s.text = opts.TextColumn
	} else {
		s.text = pickTextColumn(selected)
	}
	return s, nil
}

// pickTextColumn chooses the column rendered as document text when none is named.
func pickTextColumn(cols []Column) string {
	for _, want := range []string{"text", "content", "messages", "conversations"} {
		for _, c := range cols {
			if c.Name == want {
				return want
			}
		}
	}
	for _, c := range cols {
		switch c.Type {
		case "utf8", "large_utf8", "string_view", "string":
			return c.Name
		}
	}
	return ""
}

// wants reports whether the named column must be decoded.
func (s *shaper) wants(name string) bool {
	return s.keep == nil || s.keep[name] || name == s.text
}

// finish fills rec.Text from the text column and drops columns not asked for.
func (s *shaper) finish(rec *Record) error {
	if s.text != "" {
		v := rec.Fields[s.text]
		t, ok := renderText(v, s.chat)
		if !ok {
			return fmt.Errorf("datasets: %s: text column %q is %s, which has no text form; name another text column",
				rec.where(), s.text, typeName(v))
		}
		rec.Text = t
	}
	if s.keep != nil {
		for k := range rec.Fields {
			if !s.keep[k] {
				delete(rec.Fields, k)
			}
		}
	}
	return nil
}

// selectColumns returns the columns that are kept, in dataset order.
func (s *shaper) selectColumns(cols []Column) []Column {
	if s.keep == nil {
		return cols
	}
	var out []Column
	for _, c := range cols {
		if s.keep[c.Name] {
			out = append(out, c)
		}
	}
	return out
}

// byteStream is a buffered view of a file, transparently gunzipped when it starts with the
// gzip magic.
type byteStream struct {
	*bufio.Reader
	f  *os.File
	gz *gzip.Reader
}

// openByteStream opens path for sequential reading.
func openByteStream(path string) (*byteStream, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	br := bufio.NewReaderSize(f, 1<<20)
	s := &byteStream{Reader: br, f: f}
	if head, _ := br.Peek(2); len(head) == 2 && head[0] == 0x1f && head[1] == 0x8b {
		gz, err := gzip.NewReader(br)
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("datasets: %s: gzip: %w", path, err)
		}
		s.gz = gz
		s.Reader = bufio.NewReaderSize(gz, 1<<20)
	}
	return s, nil
}

// Close closes the file.
func (s *byteStream) Close() error {
	if s.gz != nil {
		s.gz.Close()
	}
	return s.f.Close()
}

// readLine returns the next line without its "\n" (and the "\r" before it when strip is set),
// however long. It returns io.EOF only when nothing is left; a final line without "\n" is
// returned normally.
func readLine(r *bufio.Reader, strip bool) ([]byte, error) {
	line, err := r.ReadSlice('\n')
	if err == bufio.ErrBufferFull {
		buf := append([]byte(nil), line...)
		for err == bufio.ErrBufferFull {
			line, err = r.ReadSlice('\n')
			buf = append(buf, line...)
		}
		line = buf
	} else if err == nil || len(line) > 0 {
		line = append([]byte(nil), line...)
	}
	if err != nil && err != io.EOF {
		return nil, err
	}
	if err == io.EOF && len(line) == 0 {
		return nil, io.EOF
	}
	if n := len(line); n > 0 && line[n-1] == '\n' {
		line = line[:n-1]
		if strip && len(line) > 0 && line[len(line)-1] == '\r' {
			line = line[:len(line)-1]
		}
	} else if strip && n > 0 && line[n-1] == '\r' {
		line = line[:n-1]
	}
	return line, nil
}

// textColumn reports the column rendered into Record.Text (for Inspect).
func (r *textReader) textColumn() string     { return r.sh.text }
func (r *columnarReader) textColumn() string { return r.sh.text }
func (r *jsonReader) textColumn() string {
	if r.sh == nil {
		if r.opts.TextColumn != "" {
			return r.opts.TextColumn
		}
		return ""
	}
	return r.sh.text
}
func (r *shardReader) textColumn() string {
	if tc, ok := r.cur.(interface{ textColumn() string }); ok && r.cur != nil {
		return tc.textColumn()
	}
	return ""
}
