package eval

import (
	"errors"

	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/internal/badinput"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
)

// ErrBadInput is wrapped by every error caused by the user's models, data, tasks or options
// (a file that is not a usable model, text too short for the context, a malformed task record,
// variants with different vocabularies, a gate without the data it needs) rather than by
// mcompress itself. The CLI maps it to exit code 2; anything else is an internal failure
// (exit 1).
var ErrBadInput = errors.New("bad input")

// bad marks err as caused by the input, keeping its message.
func bad(err error) error { return badinput.Mark(ErrBadInput, err) }

// adopt marks err as eval's bad input when a stage below already classified it so.
func adopt(err error) error {
	if errors.Is(err, runtime.ErrBadInput) || errors.Is(err, datasets.ErrBadInput) || errors.Is(err, quantize.ErrBadInput) {
		return bad(err)
	}
	return err
}
