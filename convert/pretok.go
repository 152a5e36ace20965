package convert

import (
	"fmt"
	"strings"
)

// The Split regexes of tokenizer.json pre-tokenizers llama.cpp knows, as the tokenizers write
// them (llama.cpp's llama-vocab.cpp quotes them as "original regex from tokenizer.json").
const (
	regexLlama3 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	regexQwen2  = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
	regexQwen35 = `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?[\p{L}\p{M}]+|\p{N}| ?[^\s\p{L}\p{M}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+`
)

// preStep is one pre-tokenizer of a tokenizer.json pre_tokenizer (Sequences flattened).
type preStep struct {
	kind  string // Split, ByteLevel, Digits or another tokenizers type name
	regex string // Split: pattern.Regex (or "string:" + pattern.String)
	flag  bool   // ByteLevel: use_regex; Digits: individual_digits
}

func (s preStep) String() string {
	switch s.kind {
	case "Split":
		return fmt.Sprintf("Split(%q)", s.regex)
	case "ByteLevel":
		return fmt.Sprintf("ByteLevel(use_regex=%v)", s.flag)
	case "Digits":
		return fmt.Sprintf("Digits(individual_digits=%v)", s.flag)
	}
	return s.kind
}

// preRecipes maps the llama.cpp pre-tokenizer names we recognize to their tokenizer.json
// pre-tokenizer. Detection compares structure and regexes, where llama.cpp hashes the token ids
// of a test string (which needs the tokenizer itself); docs/CONVERT.md lists the mapping.
var preRecipes = []struct {
	name  string
	steps []preStep
}{
	{"llama-bpe", []preStep{{"Split", regexLlama3, false}, {"ByteLevel", "", false}}},
	{"qwen2", []preStep{{"Split", regexQwen2, false}, {"ByteLevel", "", false}}},
	{"qwen35", []preStep{{"Split", regexQwen35, false}, {"ByteLevel", "", false}}},
	{"gpt-2", []preStep{{"ByteLevel", "", true}}},
	{"smollm", []preStep{{"Digits", "", true}, {"ByteLevel", "", true}}},
}

// flattenPre lists the pre-tokenizers of a tokenizer.json pre_tokenizer object.
func flattenPre(p map[string]any) []preStep {
	if p == nil {
		return nil
	}
	t, _ := p["type"].(string)
	switch t {
	case "Sequence":
		var out []preStep
		list, _ := p["pretokenizers"].([]any)
		for _, x := range list {
			m, _ := x.(map[string]any)
			out = append(out, flattenPre(m)...)
		}
		return out
	case "Split":
		pat, _ := p["pattern"].(map[string]any)
		if r, ok := pat["Regex"].(string); ok {
			return []preStep{{kind: t, regex: r}}
		}
		s, _ := pat["String"].(string)
		return []preStep{{kind: t, regex: "string:" + s}}
	case "ByteLevel":
		use := true
		if b, ok := p["use_regex"].(bool); ok {
			use = b
		}
		return []preStep{{kind: t, flag: use}}
	case "Digits":
		b, _ := p["individual_digits"].(bool)
		return []preStep{{kind: t, flag: b}}
	}
	return []preStep{{kind: t}}
}

// detectPre names the pre-tokenizer of a byte-level BPE tokenizer.json for tokenizer.ggml.pre.
func detectPre(t *tokenizerJSON) (string, error) {
	steps := flattenPre(t.pre)
	for _, r := range preRecipes {
		if len(r.steps) != len(steps) {
			continue
		}
		ok := true
		for i := range steps {
			if steps[i] != r.steps[i] {
				ok = false
				break
			}
		}
		if ok {
			return r.name, nil
		}
	}
	desc := make([]string, len(steps))
	for i, s := range steps {
		desc[i] = s.String()
	}
	names := make([]string, len(preRecipes))
	for i, r := range preRecipes {
		names[i] = r.name
	}
	return "", fmt.Errorf("%w: %s: BPE pre-tokenizer [%s] not recognized (known: %s); llama.cpp refuses such tokenizers too; set the pre-tokenizer name explicitly (--tokenizer-pre) if you know it",
		ErrBadInput, t.path, strings.Join(desc, ", "), strings.Join(names, ", "))
}

// preTokenizerJSON returns the tokenizer.json pre_tokenizer for a llama.cpp pre name, or nil
// when the name is not one we can reconstruct.
func preTokenizerJSON(name string) any {
	for _, r := range preRecipes {
		if r.name != name {
			continue
		}
		var list []any
		for _, s := range r.steps {
			o := newOrdered()
			o.set("type", s.kind)
			switch s.kind {
			case "Split":
				pat := newOrdered()
				pat.set("Regex", s.regex)
				o.set("pattern", pat)
				o.set("behavior", "Isolated")
				o.set("invert", false)
			case "ByteLevel":
				o.set("add_prefix_space", false)
				o.set("trim_offsets", true)
				o.set("use_regex", s.flag)
			case "Digits":
				o.set("individual_digits", s.flag)
			}
			list = append(list, o)
		}
		if len(list) == 1 {
			return list[0]
		}
		seq := newOrdered()
		seq.set("type", "Sequence")
		seq.set("pretokenizers", list)
		return seq
	}
	return nil
}
