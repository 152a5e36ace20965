package pipeline

import (
	"errors"
	"fmt"

	"github.com/mcompress/mcompress/internal/badinput"
)

// ErrBadInput is wrapped by every error the recipe or the user's files caused (a malformed
// recipe, an unknown field, a missing reference, a cycle, an input that does not exist). The CLI
// maps it to exit code 2.
var ErrBadInput = errors.New("bad input")

// ErrGate is wrapped by the error Run returns when the evaluation's quality gates failed (the
// report was still written). The CLI maps it to exit code 3.
var ErrGate = errors.New("quality gate failed")

// StepError is a step whose command failed: its name and the command's exit code (-1 when it
// did not exit normally, for instance when killed by a signal).
type StepError struct {
	Step string
	Code int
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("step %q failed: %v", e.Step, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// recipeError is a problem at a place in the recipe file: "FILE:LINE: field F: problem".
func recipeError(file string, line int, field, format string, a ...any) error {
	msg := fmt.Sprintf(format, a...)
	loc := file
	if line > 0 {
		loc = fmt.Sprintf("%s:%d", file, line)
	}
	if field != "" {
		return bad(fmt.Errorf("%s: field %q: %s", loc, field, msg))
	}
	return bad(fmt.Errorf("%s: %s", loc, msg))
}

// bad marks err as caused by the recipe or the user's files, keeping its message.
func bad(err error) error { return badinput.Mark(ErrBadInput, err) }
