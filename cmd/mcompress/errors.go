package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/distill"
	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// Exit codes, stable for scripts and CI (README.md, "Exit codes").
const (
	exitOK        = 0
	exitInternal  = 1   // a bug or an unexpected failure inside mcompress
	exitUsage     = 2   // bad flags or bad input: the user can fix it
	exitGate      = 3   // a quality gate (eval --max-*) failed
	exitInterrupt = 130 // Ctrl-C (or SIGTERM): stopped, temporary files removed
)

// usageError marks errors caused by the user's input or flags (exit code 2).
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// badInput wraps err as a user error (exit code 2). Stage errors need no wrapping: their
// packages mark bad input themselves (badInputSentinels); this is for the commands' own checks.
func badInput(err error) error {
	if err == nil {
		return nil
	}
	return usageError{err}
}

// flagError is the root command's FlagErrorFunc: a flag cobra could not parse is bad input.
func flagError(_ *cobra.Command, err error) error { return badInput(err) }

// gateError marks a failed quality gate (exit code 3).
type gateError struct{ msg string }

func (e gateError) Error() string { return e.msg }

// badInputSentinels are the errors by which the stages and codecs mark problems of the user's
// files, data or options: each stage's ErrBadInput, and the codecs' malformed-file errors.
var badInputSentinels = []error{
	convert.ErrBadInput, quantize.ErrBadInput, runtime.ErrBadInput, eval.ErrBadInput,
	distill.ErrBadInput, datasets.ErrBadInput,
	gguf.ErrFormat, safetensors.ErrFormat, tokenizer.ErrMetadata,
}

// exitCode classifies err, an error a command returned, into the process exit code: nil is 0;
// a failed gate 3; an interruption (the context cancelled by Ctrl-C) 130; bad flags, arguments
// or input 2; anything else is an internal failure, 1. This is the one place that decides.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var ge gateError
	if errors.As(err, &ge) {
		return exitGate
	}
	if errors.Is(err, context.Canceled) {
		return exitInterrupt
	}
	var ue usageError
	if errors.As(err, &ue) || isFlagError(err) {
		return exitUsage
	}
	for _, s := range badInputSentinels {
		if errors.Is(err, s) {
			return exitUsage
		}
	}
	return exitInternal
}

// isFlagError reports whether err is one of the plain errors cobra returns for a command it
// cannot find or flags it checks after parsing. Flag parsing errors themselves come marked
// through flagError; matching their text ("invalid argument") would also catch EINVAL.
func isFlagError(err error) bool {
	msg := err.Error()
	for _, p := range []string{"unknown command ", "required flag(s) ", "if any flags in the group ", "none of the others can be", "at least one of the flags in the group"} {
		if strings.Contains(msg, p) {
			return true
		}
	}
	return false
}

// wantArgs returns a cobra.PositionalArgs that accepts between lo and hi arguments (hi < 0: no
// limit) and otherwise says which command wanted what, and where to read more, e.g.
// "mcompress quantize: expected 1 argument (the input model), got 0; see 'mcompress quantize
// --help'". what describes the arguments for the message.
func wantArgs(lo, hi int, what string) cobra.PositionalArgs {
	return func(cmd *cobra.Command, a []string) error {
		n := len(a)
		if n >= lo && (hi < 0 || n <= hi) {
			return nil
		}
		var want string
		switch {
		case hi == 0:
			want = "no arguments"
		case lo == hi:
			want = fmt.Sprintf("%d %s", lo, plural(lo, "argument", "arguments"))
		case hi < 0:
			want = fmt.Sprintf("at least %d %s", lo, plural(lo, "argument", "arguments"))
		default:
			want = fmt.Sprintf("%d to %d arguments", lo, hi)
		}
		if what != "" {
			want += " (" + what + ")"
		}
		got := fmt.Sprint(n)
		if hi == 0 {
			got += ": " + quoteAll(a)
		}
		return badInput(fmt.Errorf("%s: expected %s, got %s; see '%s --help'", cmd.CommandPath(), want, got, cmd.CommandPath()))
	}
}

// quoteAll lists a as quoted strings.
func quoteAll(a []string) string {
	q := make([]string, len(a))
	for i, s := range a {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, " ")
}
