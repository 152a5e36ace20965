package tokenizer

import (
	"slices"
	"testing"
)

// TestDetokenizer streams generated tokens and checks what each step hands out: a character
// split over byte tokens comes whole once complete, the prompt's text never comes, a leading
// space is kept or dropped as Detokenize does on the whole sequence, and the steps plus Flush
// always add up to Text.
func TestDetokenizer(t *testing.T) {
	tok := mustTokenizer(t, spmMeta(testSPMPieces(piece{"<|im_end|>", 0, typeControl})))
	for _, c := range []struct {
		name   string
		prompt []string
		gen    []string
		steps  []string // Next's result for each generated token
		flush  string
	}{
		{"after a prompt", []string{"<s>", "▁he", "llo"}, []string{"▁world", "<0x0A>"}, []string{" world", "\n"}, ""},
		{"character over byte tokens", []string{"<s>", "▁h"}, []string{"<0xC3>", "<0xA9>", "▁world"}, []string{"", "é", " world"}, ""},
		{"three-byte character", []string{"<s>", "▁h"}, []string{"<0xE2>", "<0x82>", "<0xAC>"}, []string{"", "", "€"}, ""},
		{"incomplete at the end", []string{"<s>", "▁h"}, []string{"llo", "<0xE2>", "<0x82>"}, []string{"llo", "", ""}, "\xe2\x82"},
		{"no prompt drops the space prefix", nil, []string{"▁he", "llo"}, []string{"he", "llo"}, ""},
		{"after BOS the space stays", []string{"<s>"}, []string{"▁he", "llo"}, []string{" he", "llo"}, ""},
		{"control tokens give no text", []string{"<s>", "▁he"}, []string{"<|im_end|>", "llo"}, []string{"", "llo"}, ""},
		{"nothing generated", []string{"<s>", "▁he"}, nil, nil, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			d := tok.NewDetokenizer(ids(t, tok, c.prompt...))
			var steps []string
			streamed := ""
			for _, id := range ids(t, tok, c.gen...) {
				s := d.Next(id)
				steps = append(steps, s)
				streamed += s
			}
			if !slices.Equal(steps, c.steps) {
				t.Errorf("steps %q, want %q", steps, c.steps)
			}
			if f := d.Flush(); f != c.flush {
				t.Errorf("Flush %q, want %q", f, c.flush)
			} else {
				streamed += f
			}
			if d.Flush() != "" {
				t.Error("second Flush returned text again")
			}
			if streamed != d.Text() {
				t.Errorf("streamed %q, Text %q", streamed, d.Text())
			}
		})
	}
}
