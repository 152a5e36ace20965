package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"path/filepath"
	"strings"
)

// Format names a dataset layout.
type Format string

// The formats Open understands. The zero value asks Open to sniff the format.
const (
	FormatAuto        Format = ""
	FormatText        Format = "text"         // plain UTF-8 text
	FormatJSONL       Format = "jsonl"        // one JSON object per line
	FormatJSON        Format = "json"         // a JSON array of objects, or JSON Lines
	FormatParquet     Format = "parquet"      // Apache Parquet
	FormatArrowFile   Format = "arrow-file"   // Arrow IPC file format (ARROW1 magic)
	FormatArrowStream Format = "arrow-stream" // Arrow IPC stream format
	FormatHF          Format = "hf"           // a Hugging Face dataset folder
)

// ParseFormat converts a user-supplied format name ("parquet", "arrow", "jsonl", …) to a
// Format. "auto" and "" give FormatAuto; "arrow" and "ipc" give FormatArrowFile, whose reader
// also accepts streams.
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "auto":
		return FormatAuto, nil
	case "text", "txt":
		return FormatText, nil
	case "jsonl", "ndjson":
		return FormatJSONL, nil
	case "json":
		return FormatJSON, nil
	case "parquet":
		return FormatParquet, nil
	case "arrow", "ipc", "arrow-file", "feather":
		return FormatArrowFile, nil
	case "arrows", "arrow-stream":
		return FormatArrowStream, nil
	case "hf", "huggingface":
		return FormatHF, nil
	}
	return "", fmt.Errorf("datasets: unknown format %q (want text, jsonl, json, parquet, arrow, arrow-stream or hf)", s)
}

// TextMode says how a plain-text file is cut into records.
type TextMode int

const (
	// TextWhole makes the whole file one record (the zero value).
	TextWhole TextMode = iota
	// TextLines makes each line one record. Lines end at "\n"; one trailing "\r" is removed.
	TextLines
	// TextParagraphs makes each run of non-empty lines one record, lines joined by "\n";
	// paragraphs are separated by one or more empty lines (a line holding only spaces is
	// not empty). Trailing "\r" is removed from every line.
	TextParagraphs
)

// ParseTextMode converts "whole", "lines" or "paragraphs" to a TextMode.
func ParseTextMode(s string) (TextMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "whole", "file", "document":
		return TextWhole, nil
	case "line", "lines":
		return TextLines, nil
	case "paragraph", "paragraphs":
		return TextParagraphs, nil
	}
	return 0, fmt.Errorf("datasets: unknown text mode %q (want whole, lines or paragraphs)", s)
}

// String returns the mode's name as ParseTextMode accepts it.
func (m TextMode) String() string {
	switch m {
	case TextLines:
		return "lines"
	case TextParagraphs:
		return "paragraphs"
	}
	return "whole"
}

// Options controls Open and Inspect. The zero value reads everything with the format sniffed,
// the text column chosen automatically and the "train" split of a Hugging Face folder.
type Options struct {
	// Format forces a format; FormatAuto (zero) sniffs it from the bytes and the name.
	Format Format
	// Split selects the split of a Hugging Face folder. Empty means "train" when the folder
	// has one, else its first split. Ignored for single files.
	Split string
	// Config selects a Hugging Face config by config_name. Empty means the config marked
	// default, else the one named "default", else the first.
	Config string
	// Columns keeps only these top-level columns in Record.Fields (and, for Parquet and
	// Arrow, reads only them). Nil keeps every column. A name that is not in the dataset is an
	// error that lists the available columns.
	Columns []string
	// TextColumn names the column rendered into Record.Text. Empty picks "text", then
	// "content", "messages", "conversations", then the first string column; when none exists
	// Record.Text stays empty. A named column that does not exist is an error.
	TextColumn string
	// TextMode cuts plain-text files into records: the whole file (zero value), lines or
	// paragraphs.
	TextMode TextMode
	// KeepEmpty keeps empty lines as empty records in TextLines mode; by default they are
	// skipped. (Empty paragraphs do not exist; blank JSON Lines lines are always skipped.)
	KeepEmpty bool
	// ChatFormat renders chat columns (lists of {role, content}) into Record.Text; nil means
	// DefaultChatFormat.
	ChatFormat ChatFormat
	// BatchSize is the number of rows decoded at a time from Parquet row groups; zero means
	// 1024. It bounds memory, not results.
	BatchSize int
}

// Column describes one top-level column of a dataset.
type Column struct {
	// Name is the column name.
	Name string `json:"name"`
	// Type is the column type in Arrow's notation ("utf8", "int64",
	// "list<element: struct<role: utf8, content: utf8>>"); for JSON it is inferred from the
	// first record ("string", "int", "float", "bool", "list<string>", "struct<…>", "null").
	Type string `json:"type"`
}

// Reader streams the records of a dataset. It is not safe for concurrent use.
type Reader interface {
	// Next returns the next record, or io.EOF after the last one. Any other error is final.
	Next() (*Record, error)
	// Columns describes the dataset's top-level columns (after Options.Columns selection).
	// For JSON it reflects the first record and is empty before the first call to Next.
	Columns() []Column
	// Format reports the format of the data being read.
	Format() Format
	// Close releases the reader's files.
	Close() error
}

// Errors that callers may test with errors.Is.
var (
	// ErrEmpty reports a dataset with nothing to read: a zero-byte file, a folder without
	// data files, a split without shards, or no documents left to tokenize.
	ErrEmpty = badInputSentinel("empty dataset")
	// ErrMissingColumn reports a requested column or field that the data does not have.
	ErrMissingColumn = badInputSentinel("column not found")
	// ErrCorrupt reports data that the decoder could not make sense of (including panics
	// recovered from arrow-go).
	ErrCorrupt = badInputSentinel("corrupt data")
	// ErrClosed is returned by Next after Close.
	ErrClosed = errors.New("datasets: reader is closed")
)

// Open opens the dataset at path: a file (text, JSON Lines, JSON, Parquet, Arrow IPC file or
// stream) or a Hugging Face dataset folder, and returns a Reader over its records (for a
// folder, over the shards of one split in order).
//
// Every error it returns, and every error of the Reader's Next but io.EOF and ErrClosed,
// wraps ErrBadInput.
func Open(path string, opts Options) (Reader, error) {
	r, err := open(path, opts)
	if err != nil {
		return nil, bad(err)
	}
	return markedReader{r}, nil
}

// open is Open without the marking of its errors.
func open(path string, opts Options) (Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	if st.IsDir() {
		if opts.Format != FormatAuto && opts.Format != FormatHF {
			return nil, fmt.Errorf("datasets: %s: is a folder, not a %s file", path, opts.Format)
		}
		return openFolder(path, opts)
	}
	if opts.Format == FormatHF {
		return nil, fmt.Errorf("datasets: %s: format hf needs a folder", path)
	}
	return openFile(path, st.Size(), opts)
}

// openFile opens one data file, sniffing its format unless opts.Format says it.
func openFile(path string, size int64, opts Options) (Reader, error) {
	if size == 0 {
		return nil, fmt.Errorf("datasets: %s: zero-byte file: %w", path, ErrEmpty)
	}
	f := opts.Format
	if f == FormatAuto {
		var err error
		if f, err = SniffFile(path); err != nil {
			return nil, err
		}
	}
	switch f {
	case FormatText:
		return openText(path, opts)
	case FormatJSONL, FormatJSON:
		return openJSON(path, f, opts)
	case FormatParquet:
		return openParquet(path, size, opts)
	case FormatArrowFile, FormatArrowStream:
		return openArrow(path, size, opts)
	}
	return nil, fmt.Errorf("datasets: %s: unsupported format %q", path, f)
}

// SniffFile reports the format of the file at path from its first bytes, falling back on the
// extension for text and JSON: "PAR1" is Parquet, "ARROW1" an Arrow IPC file, a 0xFFFFFFFF
// continuation marker an Arrow IPC stream (whatever the extension), and .jsonl/.ndjson/.json
// (optionally gzip-compressed) JSON. Everything else is text.
func SniffFile(path string) (Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("datasets: %w", err)
	}
	defer f.Close()
	head := make([]byte, 512)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("datasets: %s: %w", path, err)
	}
	return sniff(path, head[:n]), nil
}

// sniff decides a file's format from its name and first bytes.
func sniff(path string, head []byte) Format {
	switch {
	case bytes.HasPrefix(head, []byte("PAR1")):
		return FormatParquet
	case bytes.HasPrefix(head, []byte("ARROW1")):
		return FormatArrowFile
	case bytes.HasPrefix(head, []byte{0xff, 0xff, 0xff, 0xff}):
		return FormatArrowStream
	}
	name := strings.ToLower(filepath.Base(path))
	name = strings.TrimSuffix(name, ".gz")
	switch filepath.Ext(name) {
	case ".jsonl", ".ndjson":
		return FormatJSONL
	case ".json":
		return FormatJSON
	case ".arrow", ".arrows", ".ipc", ".feather":
		// Pre-0.15 streams start with the metadata length instead of a marker.
		return FormatArrowStream
	case ".parquet":
		return FormatParquet // a Parquet file without magic: let the reader say what is wrong
	}
	return FormatText
}

// Records returns an iterator over the remaining records of r for use with range. Iteration
// stops after the first error, which is yielded with a nil record; io.EOF is not yielded.
func Records(r Reader) iter.Seq2[*Record, error] {
	return func(yield func(*Record, error) bool) {
		for {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				yield(nil, err)
				return
			}
			if !yield(rec, nil) {
				return
			}
		}
	}
}

// ReadAll reads up to max records from r (all when max <= 0).
func ReadAll(r Reader, max int) ([]*Record, error) {
	var out []*Record
	for rec, err := range Records(r) {
		if err != nil {
			return out, err
		}
		out = append(out, rec)
		if max > 0 && len(out) >= max {
			break
		}
	}
	return out, nil
}

// missingColumn builds the error for a column the data does not have; it matches
// ErrMissingColumn with errors.Is.
func missingColumn(path, what, name string, available []string) error {
	return &missingError{fmt.Sprintf("datasets: %s: %s %q not found (available: %s)",
		path, what, name, strings.Join(available, ", "))}
}

type missingError struct{ msg string }

func (e *missingError) Error() string        { return e.msg }
func (e *missingError) Is(target error) bool { return target == ErrMissingColumn }

// recovered converts a panic value caught at a reader boundary into an error.
func recovered(where string, p any) error {
	return fmt.Errorf("datasets: %s: %w (decoder panicked: %v)", where, ErrCorrupt, p)
}
