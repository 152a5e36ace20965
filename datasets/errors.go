package datasets

import (
	"errors"
	"io"

	"github.com/mcompress/mcompress/internal/badinput"
)

// ErrBadInput is wrapped by every error caused by the data or the options rather than by the
// system: every error of Open (a missing path, an unknown format, a malformed header), and
// every error that wraps ErrEmpty, ErrMissingColumn or ErrCorrupt. The CLI maps it to exit
// code 2.
var ErrBadInput = errors.New("bad input")

// badInputSentinel returns a sentinel with text msg that also matches ErrBadInput.
func badInputSentinel(msg string) error { return bad(errors.New(msg)) }

// bad marks err as caused by the input, keeping its message.
func bad(err error) error { return badinput.Mark(ErrBadInput, err) }

// markedReader is a Reader whose Next marks its errors (but io.EOF and ErrClosed) as bad input:
// the records are the user's data, so a record that cannot be read is the data's fault.
type markedReader struct{ Reader }

// Next returns the next record.
func (r markedReader) Next() (*Record, error) {
	rec, err := r.Reader.Next()
	if err != nil && err != io.EOF && !errors.Is(err, ErrClosed) && !errors.Is(err, ErrBadInput) {
		err = bad(err)
	}
	return rec, err
}

// textColumn passes the text column of readers that know it through to Inspect.
func (r markedReader) textColumn() string {
	if tc, ok := r.Reader.(interface{ textColumn() string }); ok {
		return tc.textColumn()
	}
	return ""
}
