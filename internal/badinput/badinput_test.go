package badinput

import (
	"errors"
	"io/fs"
	"testing"
)

func TestMark(t *testing.T) {
	errStage := errors.New("bad input")
	errOther := errors.New("other")
	inner := &fs.PathError{Op: "open", Path: "x.gguf", Err: fs.ErrNotExist}
	tests := []struct {
		name     string
		err      error
		isStage  bool
		isOther  bool
		notExist bool
		msg      string
	}{
		{"marked path error", Mark(errStage, inner), true, false, true, "open x.gguf: file does not exist"},
		{"plain path error", inner, false, false, true, "open x.gguf: file does not exist"},
		{"marked then wrapped", errors.Join(Mark(errStage, errOther)), true, true, false, "other"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := errors.Is(tc.err, errStage); got != tc.isStage {
				t.Errorf("Is(stage) = %v, want %v", got, tc.isStage)
			}
			if got := errors.Is(tc.err, errOther); got != tc.isOther {
				t.Errorf("Is(other) = %v, want %v", got, tc.isOther)
			}
			if got := errors.Is(tc.err, fs.ErrNotExist); got != tc.notExist {
				t.Errorf("Is(ErrNotExist) = %v, want %v", got, tc.notExist)
			}
			if tc.err.Error() != tc.msg {
				t.Errorf("message %q, want %q", tc.err.Error(), tc.msg)
			}
		})
	}
	if Mark(errStage, nil) != nil {
		t.Error("Mark(nil) is not nil")
	}
}
