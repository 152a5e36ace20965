package quantize

import (
	"errors"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestParseTypeIQ checks that the types of issue 16 can be named as tensor types, and that a
// type without a codec is refused as bad input.
func TestParseTypeIQ(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want gguf.TensorType
		ok   bool
	}{
		{"TQ1_0", gguf.TypeTQ1_0, true},
		{"tq2_0", gguf.TypeTQ2_0, true},
		{"iq2_xxs", gguf.TypeIQ2_XXS, true},
		{"IQ1_M", gguf.TypeIQ1_M, true},
		{"Q8_1", 0, false},
	} {
		got, err := ParseType(tc.in)
		if tc.ok && (err != nil || got != tc.want) {
			t.Errorf("ParseType(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
		if !tc.ok && !errors.Is(err, ErrInvalidInput) {
			t.Errorf("ParseType(%q): %v, want an invalid-input error", tc.in, err)
		}
	}
}
