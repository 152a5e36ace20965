package distill

import (
	"errors"
	"fmt"
)

// ErrBadInput is wrapped by every error caused by the user's files or options (a missing
// teacher, a configuration that cannot be built, mismatched vocabularies, a dataset too short,
// an unwritable output) rather than by the system. The CLI maps it to exit code 2.
var ErrBadInput = errors.New("bad input")

// badInputf formats an error that wraps ErrBadInput.
func badInputf(format string, args ...any) error {
	return fmt.Errorf("distill: %w: %s", ErrBadInput, fmt.Sprintf(format, args...))
}
