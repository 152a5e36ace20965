package quantize

import (
	"errors"
	"fmt"

	"github.com/mcompress/mcompress/internal/badinput"
)

// ErrBadInput is wrapped by every error caused by the input model, the importance matrix or
// the options (as opposed to internal failures), so that callers can tell the user to fix it.
// The CLI maps it to exit code 2.
var ErrBadInput = errors.New("bad input")

// ErrInvalidInput is the former name of ErrBadInput.
//
// Deprecated: use ErrBadInput, the name every stage uses.
var ErrInvalidInput = ErrBadInput

// invalid marks err as an input error (errors.Is(err, ErrBadInput) holds) without changing
// its message.
func invalid(err error) error { return badinput.Mark(ErrBadInput, err) }

// invalidf is fmt.Errorf for input errors.
func invalidf(format string, args ...any) error { return invalid(fmt.Errorf(format, args...)) }
