// Package badinput marks errors as caused by a stage's input (the user's files, data or
// options) rather than by mcompress itself, without changing their text.
//
// Each stage package declares its own sentinel in its errors.go,
//
//	var ErrBadInput = errors.New("bad input")
//
// and marks the errors of its bad-input failure points with Mark (or wraps the sentinel with
// %w). Callers test errors.Is(err, stage.ErrBadInput); the CLI maps bad input to exit code 2.
package badinput

// marked is err, also matching sentinel under errors.Is.
type marked struct{ err, sentinel error }

func (e *marked) Error() string   { return e.err.Error() }
func (e *marked) Unwrap() []error { return []error{e.err, e.sentinel} }

// Mark returns err marked so that errors.Is(result, sentinel) holds; the message is err's and
// errors.Is and errors.As still see everything err wraps. Mark(sentinel, nil) is nil.
func Mark(sentinel, err error) error {
	if err == nil {
		return nil
	}
	return &marked{err, sentinel}
}
