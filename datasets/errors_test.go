package datasets

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// TestErrBadInput checks that the input errors of Open and of reading wrap ErrBadInput while
// keeping their own sentinels and messages.
func TestErrBadInput(t *testing.T) {
	dir := t.TempDir()
	write := func(name, body string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	empty := write("empty.jsonl", "")
	badJSON := write("bad.jsonl", "{\"text\": \"a\"}\n{not json\n")
	tests := []struct {
		name string
		run  func() error
		also error // a sentinel the error must keep, or nil
	}{
		{"missing path", func() error { _, err := Open(filepath.Join(dir, "none.jsonl"), Options{}); return err }, os.ErrNotExist},
		{"zero-byte file", func() error { _, err := Open(empty, Options{}); return err }, ErrEmpty},
		{"folder with format", func() error { _, err := Open(dir, Options{Format: FormatJSONL}); return err }, nil},
		{"inspect a missing path", func() error { _, err := Inspect(filepath.Join(dir, "none"), Options{}, 1); return err }, os.ErrNotExist},
		{"inspect a malformed file", func() error { _, err := Inspect(badJSON, Options{Format: FormatJSONL}, 5); return err }, nil},
		{"malformed record", func() error {
			r, err := Open(badJSON, Options{Format: FormatJSONL})
			if err != nil {
				return err
			}
			defer r.Close()
			for {
				if _, err := r.Next(); err != nil {
					if errors.Is(err, io.EOF) {
						return nil
					}
					return err
				}
			}
		}, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.run()
			if err == nil {
				t.Fatal("no error")
			}
			if !errors.Is(err, ErrBadInput) {
				t.Errorf("%v does not wrap ErrBadInput", err)
			}
			if tc.also != nil && !errors.Is(err, tc.also) {
				t.Errorf("%v does not wrap %v", err, tc.also)
			}
		})
	}
	if errors.Is(ErrClosed, ErrBadInput) {
		t.Error("ErrClosed (a caller's bug) wraps ErrBadInput")
	}
}
