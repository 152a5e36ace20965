package runtime

import (
	"errors"

	"github.com/mcompress/mcompress/internal/badinput"
)

// ErrBadInput is wrapped by every error caused by the caller's model file, tensors or options
// (a file that is not a usable GGUF model, a missing or misshapen tensor, an unsupported type,
// a context or sampler setting out of range) rather than by the runtime itself. The CLI maps it
// to exit code 2.
var ErrBadInput = errors.New("bad input")

// bad marks err as caused by the input, keeping its message.
func bad(err error) error { return badinput.Mark(ErrBadInput, err) }
