package convert

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// specialTypes are the special-token kinds llama.cpp's SpecialVocab looks for, in its order.
var specialTypes = []string{"bos", "eos", "unk", "sep", "pad", "cls", "mask"}

// specialIDKeys maps a special-token kind to its GGUF key; kinds without one (cls) are skipped
// by llama.cpp's writer.
var specialIDKeys = map[string]string{
	"bos": "tokenizer.ggml.bos_token_id", "eos": "tokenizer.ggml.eos_token_id",
	"unk": "tokenizer.ggml.unknown_token_id", "sep": "tokenizer.ggml.seperator_token_id",
	"pad": "tokenizer.ggml.padding_token_id", "mask": "tokenizer.ggml.mask_token_id",
	"eot": "tokenizer.ggml.eot_token_id", "eom": "tokenizer.ggml.eom_token_id",
}

// addTokenKeys maps the add_*_token flags llama.cpp writes to their GGUF keys.
var addTokenKeys = map[string]string{
	"bos": "tokenizer.ggml.add_bos_token", "eos": "tokenizer.ggml.add_eos_token",
	"sep": "tokenizer.ggml.add_sep_token",
}

// kv is one entry of an ordered list.
type kv[T any] struct {
	key string
	val T
}

// orderedSet is a small insertion-ordered map (Python dict semantics).
type orderedSet[T any] struct{ items []kv[T] }

func (o *orderedSet[T]) set(k string, v T) {
	for i := range o.items {
		if o.items[i].key == k {
			o.items[i].val = v
			return
		}
	}
	o.items = append(o.items, kv[T]{k, v})
}

func (o *orderedSet[T]) get(k string) (T, bool) {
	for _, it := range o.items {
		if it.key == k {
			return it.val, true
		}
	}
	var zero T
	return zero, false
}

// specialVocab reproduces llama.cpp's gguf.SpecialVocab: BPE merges, special token ids,
// add_*_token flags, the chat template and normalizer flags, read from tokenizer.json,
// tokenizer_config.json, chat_template.jinja/json and config.json.
type specialVocab struct {
	types        []string
	nVocab       int // 0: no range check
	merges       []string
	ids          orderedSet[int]
	add          orderedSet[bool]
	chatTemplate any // string, []chatTemplate or nil
	lowercase    *bool
	stripAccents *bool
}

// chatTemplate is a named template of a tokenizer with several.
type chatTemplate struct{ name, template string }

// loadSpecialVocab reads the special vocabulary of the model folder dir.
func loadSpecialVocab(dir string, loadMerges bool, nVocab int, types []string) (*specialVocab, error) {
	sv := &specialVocab{types: append([]string(nil), types...), nVocab: nVocab}
	if sv.types == nil {
		sv.types = append([]string(nil), specialTypes...)
	}
	if err := sv.fromTokenizerJSON(dir, loadMerges); err != nil {
		return nil, err
	}
	if err := sv.fromConfigJSON(dir); err != nil {
		return nil, err
	}
	if loadMerges && len(sv.merges) == 0 {
		if err := sv.fromMergesTxt(dir); err != nil {
			return nil, err
		}
	}
	return sv, nil
}

func (sv *specialVocab) setID(typ string, v any) error {
	id, ok := intOf(v)
	if !ok {
		return nil
	}
	if id < 0 {
		return fmt.Errorf("%w: invalid value for special token type %s: %d", ErrBadInput, typ, id)
	}
	if sv.nVocab > 0 && id >= int64(sv.nVocab) {
		return nil // llama.cpp warns and skips ids out of range
	}
	if _, seen := sv.ids.get(typ); seen {
		return nil
	}
	sv.ids.set(typ, int(id))
	return nil
}

func (sv *specialVocab) hasType(t string) bool {
	for _, x := range sv.types {
		if x == t {
			return true
		}
	}
	return false
}

// parseNormalizer records lowercase/strip-accents flags of a tokenizer.json normalizer.
func (sv *specialVocab) parseNormalizer(n map[string]any) {
	switch n["type"] {
	case "Lowercase":
		t := true
		sv.lowercase = &t
	case "StripAccents":
		t := true
		sv.stripAccents = &t
	case "BertNormalizer":
		if b, ok := n["lowercase"].(bool); ok {
			sv.lowercase = &b
		}
		if b, ok := n["strip_accents"].(bool); ok {
			sv.stripAccents = &b
		}
	case "Sequence":
		list, _ := n["normalizers"].([]any)
		for _, x := range list {
			if m, ok := x.(map[string]any); ok {
				sv.parseNormalizer(m)
			}
		}
	}
}

// mergesFrom converts tokenizer.json merges (["a b"] or [["a","b"]]) to GGUF's "a b" strings,
// encoding spaces inside a pair as U+0120 as llama.cpp does.
func mergesFrom(v any) ([]string, error) {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return nil, nil
	}
	out := make([]string, len(list))
	for i, m := range list {
		switch x := m.(type) {
		case string:
			out[i] = x
		case []any:
			if len(x) != 2 {
				return nil, fmt.Errorf("merge %d has %d parts, want 2", i, len(x))
			}
			a, ok1 := x[0].(string)
			b, ok2 := x[1].(string)
			if !ok1 || !ok2 {
				return nil, fmt.Errorf("merge %d is not a pair of strings", i)
			}
			out[i] = strings.ReplaceAll(a, " ", "\u0120") + " " + strings.ReplaceAll(b, " ", "\u0120")
		default:
			return nil, fmt.Errorf("unknown merges format (element %d is %T)", i, m)
		}
	}
	return out, nil
}

func (sv *specialVocab) fromTokenizerJSON(dir string, loadMerges bool) error {
	tj, err := readJSONObject(filepath.Join(dir, "tokenizer.json"), true)
	if err != nil {
		return err
	}
	var added []any
	if tj != nil {
		if loadMerges {
			if model := tj.obj("model"); model != nil {
				if sv.merges, err = mergesFrom(model.raw("merges")); err != nil {
					return fmt.Errorf("%w: %s: %v", ErrBadInput, tj.path, err)
				}
			}
		}
		if n, ok := tj.raw("normalizer").(map[string]any); ok {
			sv.parseNormalizer(n)
		}
		added, _ = tj.raw("added_tokens").([]any)
	}
	tc, err := readJSONObject(filepath.Join(dir, "tokenizer_config.json"), true)
	if err != nil {
		return err
	}
	tcm := map[string]any{}
	if tc != nil {
		tcm = tc.m
	}
	if tj != nil {
		sv.postProcessor(tj, tc != nil && len(tc.m) > 0, tcm)
	}
	if tc == nil || len(tc.m) == 0 {
		return nil
	}
	var alt any
	if b, err := os.ReadFile(filepath.Join(dir, "chat_template.jinja")); err == nil {
		alt = string(b)
		extra, _ := filepath.Glob(filepath.Join(dir, "additional_chat_templates", "*.jinja"))
		if len(extra) > 0 {
			list := []chatTemplate{{"default", string(b)}}
			for _, p := range extra {
				t, err := os.ReadFile(p)
				if err != nil {
					return fmt.Errorf("%w: %v", ErrBadInput, err)
				}
				list = append(list, chatTemplate{strings.TrimSuffix(filepath.Base(p), ".jinja"), string(t)})
			}
			alt = list
		}
	} else if cj, err := readJSONObject(filepath.Join(dir, "chat_template.json"), true); err != nil {
		return err
	} else if cj != nil {
		alt = templateValue(cj.raw("chat_template"))
	}
	if v, ok := tcm["chat_template"]; ok {
		sv.chatTemplate = templateValue(v)
	} else {
		sv.chatTemplate = alt
	}
	for _, typ := range sv.types {
		if b, ok := tcm["add_"+typ+"_token"].(bool); ok {
			sv.add.set(typ, b)
		}
		var content string
		switch e := tcm[typ+"_token"].(type) {
		case string:
			content = e
		case map[string]any:
			s, ok := e["content"].(string)
			if !ok {
				continue
			}
			content = s
		default:
			continue
		}
		for _, a := range added {
			at, _ := a.(map[string]any)
			if at != nil && at["content"] == content {
				if err := sv.setID(typ, at["id"]); err != nil {
					return err
				}
				break
			}
		}
	}
	return nil
}

// templateValue converts a chat_template JSON value: a string, or a list of {name, template}.
func templateValue(v any) any {
	switch x := v.(type) {
	case string:
		return x
	case []any:
		var out []chatTemplate
		for _, e := range x {
			m, _ := e.(map[string]any)
			name, _ := m["name"].(string)
			t, ok := m["template"].(string)
			if ok {
				out = append(out, chatTemplate{name, t})
			} else {
				out = append(out, chatTemplate{name: name, template: "\x00"})
			}
		}
		return out
	}
	return nil
}

// postProcessor follows llama.cpp's reading of tokenizer.json's post_processor: RobertaProcessing
// adds bos/eos/sep, a TemplateProcessing's leading and trailing special tokens decide add_bos and
// add_eos (and may rename bos/eos in the tokenizer config it consults later).
func (sv *specialVocab) postProcessor(tj *hparams, haveTC bool, tc map[string]any) {
	str := func(k string) string { s, _ := tc[k].(string); return s }
	specialBOS, specialCLS := str("bos_token"), str("cls_token")
	specialEOS, specialSEP := str("eos_token"), str("sep_token")
	if specialBOS == "" && specialCLS != "" && haveTC {
		tc["bos_token"], specialBOS = specialCLS, specialCLS
	}
	if specialEOS == "" && specialSEP != "" && haveTC {
		tc["eos_token"], specialEOS = specialSEP, specialSEP
	}
	pp, ok := tj.raw("post_processor").(map[string]any)
	if !ok {
		return
	}
	procs := []any{pp}
	if list, ok := pp["processors"].([]any); ok {
		procs = list
	}
	specialID := func(e any) string {
		m, _ := e.(map[string]any)
		st, _ := m["SpecialToken"].(map[string]any)
		s, _ := st["id"].(string)
		return s
	}
	seqID := func(e any) string {
		m, _ := e.(map[string]any)
		st, _ := m["Sequence"].(map[string]any)
		s, _ := st["id"].(string)
		return s
	}
	for _, p := range procs {
		proc, _ := p.(map[string]any)
		switch proc["type"] {
		case "RobertaProcessing":
			sv.add.set("bos", true)
			sv.add.set("eos", true)
			sv.add.set("sep", true)
			if specialCLS == "" && haveTC {
				specialCLS = specialBOS
				if c, ok := proc["cls"].([]any); ok && len(c) > 0 {
					specialCLS, _ = c[0].(string)
				}
				tc["cls_token"] = specialCLS
			}
			if specialSEP == "" && haveTC {
				specialSEP = specialEOS
				if c, ok := proc["sep"].([]any); ok && len(c) > 0 {
					specialSEP, _ = c[0].(string)
				}
				tc["sep_token"] = specialSEP
			}
		case "TemplateProcessing":
			single, _ := proc["single"].([]any)
			pair, _ := proc["pair"].([]any)
			first, last := "", ""
			if len(single) > 1 {
				if first = specialID(single[0]); first != "" {
					if !haveTC {
						specialBOS = first
					} else if first != specialBOS && first != specialCLS {
						if specialBOS == "" {
							tc["bos_token"], specialBOS = first, first
						}
						if specialCLS == "" {
							tc["cls_token"], specialCLS = first, first
						}
					}
					sv.add.set("bos", first == specialBOS || first == specialCLS)
				}
				if last = specialID(single[len(single)-1]); last != "" {
					if !haveTC {
						specialEOS = last
					} else if last != specialEOS {
						if !sv.hasType("eot") {
							sv.types = append(sv.types, "eot")
							tc["eot_token"] = specialEOS
						} else if !sv.hasType("eom") {
							sv.types = append(sv.types, "eom")
							tc["eom_token"] = specialEOS
						}
						tc["eos_token"], specialEOS = last, last
					}
					sv.add.set("eos", last == specialEOS)
				}
			}
			if len(pair) > 0 {
				start, stop := 0, len(pair)
				if first != "" && specialID(pair[0]) == first {
					start = 1
				}
				if last != "" && specialID(pair[len(pair)-1]) == last {
					stop--
				}
				if start < stop {
					mid := pair[start:stop]
					a, b := seqID(mid[0]), seqID(mid[len(mid)-1])
					if a == "A" && b == "B" && len(mid) > 2 {
						mid = mid[1 : len(mid)-1]
						addSep := false
						if e := specialID(mid[0]); e != "" && (e == specialSEP || e == specialEOS) && last == "" {
							addSep = true
						}
						if len(mid) == 2 {
							if e := specialID(mid[1]); e != "" && (e == specialSEP || e == specialEOS) {
								addSep = true
							}
						}
						sv.add.set("sep", addSep)
						if addSep && specialSEP == "" && haveTC {
							tc["sep_token"] = specialEOS
						}
					}
				}
			}
		}
	}
}

func (sv *specialVocab) fromConfigJSON(dir string) error {
	hp, err := readJSONObject(filepath.Join(dir, "config.json"), true)
	if err != nil || hp == nil {
		return err
	}
	text := hp.obj("text_config")
	for _, typ := range sv.types {
		v := hp.raw(typ + "_token_id")
		if v == nil && text != nil {
			v = text.raw(typ + "_token_id")
		}
		if err := sv.setID(typ, v); err != nil {
			return fmt.Errorf("%s: %w", hp.path, err)
		}
	}
	return nil
}

func (sv *specialVocab) fromMergesTxt(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "merges.txt"))
	if err != nil {
		return nil
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) > 0 && strings.HasPrefix(strings.TrimSpace(lines[0]), "#") {
		lines = lines[1:]
	}
	for _, l := range lines {
		parts := strings.Fields(l)
		if len(parts) == 2 {
			sv.merges = append(sv.merges, parts[0]+" "+parts[1])
		}
	}
	return nil
}

// write adds the special vocabulary to md in llama.cpp's order.
func (sv *specialVocab) write(md *mdBuilder) {
	md.strs("tokenizer.ggml.merges", sv.merges)
	for _, it := range sv.ids.items {
		if k, ok := specialIDKeys[it.key]; ok {
			md.u32(k, it.val)
		}
	}
	for _, it := range sv.add.items {
		if k, ok := addTokenKeys[it.key]; ok {
			md.boolean(k, it.val)
		}
	}
	switch t := sv.chatTemplate.(type) {
	case string:
		md.str("tokenizer.chat_template", t)
	case []chatTemplate:
		var names []string
		seen := map[string]bool{}
		def, hasDef := "", false
		for _, c := range t {
			name := sanitizeTemplateName(c.name)
			if name == "" || c.template == "\x00" {
				continue
			}
			if name == "default" {
				def, hasDef = c.template, true
				continue
			}
			if !seen[name] {
				names = append(names, name)
				seen[name] = true
			}
			md.str("tokenizer.chat_template."+name, c.template)
		}
		if len(names) > 0 {
			// llama.cpp collects the names in a Python set; we write them sorted.
			sort.Strings(names)
			md.set("tokenizer.chat_templates", gguf.Array{Type: gguf.ValueString, Values: names})
		}
		if hasDef {
			md.str("tokenizer.chat_template", def)
		}
	case nil:
		md.remove("tokenizer.chat_template")
	}
	if sv.lowercase != nil {
		md.boolean("tokenizer.ggml.normalizer.lowercase", *sv.lowercase)
	}
	if sv.stripAccents != nil {
		md.boolean("tokenizer.ggml.normalizer.strip_accents", *sv.stripAccents)
	}
}

func sanitizeTemplateName(s string) string {
	b := []rune(s)
	for i, r := range b {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			b[i] = '_'
		}
	}
	return string(b)
}

// jsonNumber is a helper for tests and the way back: an integer as a JSON number.
func jsonNumber(i int) json.Number { return json.Number(fmt.Sprint(i)) }
