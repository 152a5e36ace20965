package datasets

import (
	"fmt"
	"io"
	"strings"
)

// textReader streams a plain-text file as one record, or one per line or paragraph.
type textReader struct {
	path   string
	mode   TextMode
	keep   bool // keep empty lines
	in     *byteStream
	sh     *shaper
	line   int64 // lines consumed so far
	row    int64
	done   bool
	closed bool
	err    error // final error
}

var textColumns = []Column{{Name: "text", Type: "string"}}

func openText(path string, opts Options) (Reader, error) {
	sh, err := newShaper(path, textColumns, opts, "column")
	if err != nil {
		return nil, err
	}
	in, err := openByteStream(path)
	if err != nil {
		return nil, err
	}
	return &textReader{path: path, mode: opts.TextMode, keep: opts.KeepEmpty, in: in, sh: sh}, nil
}

func (r *textReader) Columns() []Column { return r.sh.selectColumns(textColumns) }
func (r *textReader) Format() Format    { return FormatText }
func (r *textReader) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.in.Close()
}

func (r *textReader) Next() (*Record, error) {
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

func (r *textReader) next() (*Record, error) {
	if r.done {
		return nil, io.EOF
	}
	var (
		text  string
		start int64
		err   error
	)
	switch r.mode {
	case TextWhole:
		var b []byte
		b, err = io.ReadAll(r.in)
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: %w", r.path, err)
		}
		r.done = true
		text, start = string(b), 1
	case TextLines:
		text, start, err = r.nextLine()
	case TextParagraphs:
		text, start, err = r.nextParagraph()
	default:
		return nil, fmt.Errorf("datasets: %s: unknown text mode %d", r.path, r.mode)
	}
	if err != nil {
		if err == io.EOF {
			r.done = true
		}
		return nil, err
	}
	rec := &Record{Fields: map[string]any{"text": text}, Source: r.path, Row: r.row, Line: start}
	r.row++
	if err := r.sh.finish(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// nextLine returns the next (non-empty unless keep) line and its 1-based number.
func (r *textReader) nextLine() (string, int64, error) {
	for {
		b, err := readLine(r.in.Reader, true)
		if err == io.EOF {
			return "", 0, io.EOF
		}
		if err != nil {
			return "", 0, fmt.Errorf("datasets: %s: line %d: %w", r.path, r.line+1, err)
		}
		r.line++
		if len(b) == 0 && !r.keep {
			continue
		}
		return string(b), r.line, nil
	}
}

// nextParagraph returns the next run of non-empty lines joined by "\n" and the number of its
// first line.
func (r *textReader) nextParagraph() (string, int64, error) {
	var (
		sb    strings.Builder
		start int64
	)
	for {
		b, err := readLine(r.in.Reader, true)
		if err == io.EOF {
			if start == 0 {
				return "", 0, io.EOF
			}
			return sb.String(), start, nil
		}
		if err != nil {
			return "", 0, fmt.Errorf("datasets: %s: line %d: %w", r.path, r.line+1, err)
		}
		r.line++
		if len(b) == 0 {
			if start != 0 {
				return sb.String(), start, nil
			}
			continue
		}
		if start == 0 {
			start = r.line
		} else {
			sb.WriteByte('\n')
		}
		sb.Write(b)
	}
}
