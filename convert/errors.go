package convert

import "errors"

// ErrBadInput is wrapped by every error caused by the input files or options (a missing or
// malformed config.json, an unsupported architecture, a bad tokenizer, an unwritable output)
// rather than by the system. The CLI maps it to exit code 2.
var ErrBadInput = errors.New("bad input")
