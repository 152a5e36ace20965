package tokenizer

import "unicode/utf8"

// Detokenizer turns generated tokens into text as they come, for printing while a model
// generates. Each call detokenizes the prompt and everything generated so far (so a leading
// space and clean-up rules apply exactly as Detokenize applies them to the whole sequence)
// and hands out what was added since the last call, holding back an incomplete UTF-8
// character, such as one split over byte-fallback tokens, until its last byte arrives. The
// prompt's own text is never handed out. A Detokenizer is not safe for concurrent use.
type Detokenizer struct {
	tok     *Tokenizer
	ids     []int32 // prompt, then the generated tokens
	emitted int     // bytes of generated text handed out
	base    int     // length of the prompt's own text
	started bool
}

// NewDetokenizer returns a Detokenizer for tokens generated after prompt.
func (t *Tokenizer) NewDetokenizer(prompt []int32) *Detokenizer {
	return &Detokenizer{tok: t, ids: append([]int32(nil), prompt...)}
}

// full detokenizes the prompt and the generated tokens as llama_detokenize does with
// RemoveSpecial.
func (d *Detokenizer) full() string {
	return d.tok.Detokenize(d.ids, DetokenizeOptions{RemoveSpecial: true})
}

// Next adds one generated token and returns the text that became complete with it, which may
// be empty.
func (d *Detokenizer) Next(id int32) string {
	if !d.started {
		d.base = len(d.full())
		d.started = true
	}
	d.ids = append(d.ids, id)
	all := d.full()
	if len(all) < d.base+d.emitted {
		return ""
	}
	add := all[d.base+d.emitted:]
	cut := len(add)
	for i := len(add) - 1; i >= 0 && i >= len(add)-utf8.UTFMax; i-- {
		if utf8.RuneStart(add[i]) {
			if !utf8.FullRuneInString(add[i:]) {
				cut = i
			}
			break
		}
	}
	d.emitted += cut
	return add[:cut]
}

// Flush returns the text held back so far (an incomplete character at the end of the
// generation), as it is.
func (d *Detokenizer) Flush() string {
	if !d.started {
		return ""
	}
	all := d.full()
	if len(all) <= d.base+d.emitted {
		return ""
	}
	rest := all[d.base+d.emitted:]
	d.emitted += len(rest)
	return rest
}

// Text returns the text of all generated tokens, in the context of the prompt.
func (d *Detokenizer) Text() string {
	if !d.started {
		return ""
	}
	all := d.full()
	if len(all) < d.base {
		return ""
	}
	return all[d.base:]
}
