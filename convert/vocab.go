package convert

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// doesTokenLookSpecial is llama.cpp's heuristic for added tokens that should be control tokens.
func doesTokenLookSpecial(t string) bool {
	switch t {
	case "<pad>", "<mask>", "<2mass>", "[@BOS@]":
		return true
	}
	return (strings.HasPrefix(t, "<|") && strings.HasSuffix(t, "|>")) ||
		(strings.HasPrefix(t, "<｜") && strings.HasSuffix(t, "｜>")) ||
		(strings.HasPrefix(t, "<unused") && strings.HasSuffix(t, ">"))
}

func fileExists(p string) bool {
	st, err := os.Stat(p)
	return err == nil && !st.IsDir()
}

// writeTokenList adds the token list, scores (when non-nil) and types.
func writeTokenList(md *mdBuilder, tokens []string, scores []float32, types []int32) {
	md.set("tokenizer.ggml.tokens", gguf.Array{Type: gguf.ValueString, Values: tokens})
	if scores != nil {
		md.set("tokenizer.ggml.scores", gguf.Array{Type: gguf.ValueFloat32, Values: scores})
	}
	md.set("tokenizer.ggml.token_type", gguf.Array{Type: gguf.ValueInt32, Values: types})
}

// spmVocab writes a SentencePiece vocabulary (tokenizer.model) the way llama.cpp's
// _set_vocab_sentencepiece does: pieces padded or cut to config.json's vocab_size, tokens from
// added_tokens.json and tokenizer_config.json's added_tokens_decoder overriding them.
func spmVocab(md *mdBuilder, dir string, c Config) error {
	m, err := ReadSPM(filepath.Join(dir, "tokenizer.model"))
	if err != nil {
		return err
	}
	n := c.VocabSize
	if n <= 0 {
		n = len(m.Pieces)
	}
	tokens := make([]string, n)
	scores := make([]float32, n)
	types := make([]int32, n)
	for i := range tokens {
		tokens[i] = fmt.Sprintf("[PAD%d]", i)
		scores[i] = -10000
		types[i] = TokenUnused
	}
	for id, p := range m.Pieces {
		if id >= n {
			break // llama.cpp ignores pieces beyond vocab_size
		}
		t := int32(TokenNormal)
		switch p.Type {
		case TokenUnknown, TokenControl, TokenUnused, TokenByte:
			t = p.Type
		}
		tokens[id], scores[id], types[id] = p.Piece, p.Score, t
	}
	if b, err := os.ReadFile(filepath.Join(dir, "added_tokens.json")); err == nil {
		pairs, err := orderedObject(b)
		if err != nil {
			return fmt.Errorf("%w: %s: %v", ErrBadInput, filepath.Join(dir, "added_tokens.json"), err)
		}
		for _, p := range pairs {
			id, ok := intOf(p.val)
			if !ok || id < 0 || id >= int64(n) {
				continue
			}
			tokens[id], scores[id], types[id] = p.key, -1000, TokenUserDefined
		}
	}
	tc, err := readJSONObject(filepath.Join(dir, "tokenizer_config.json"), true)
	if err != nil {
		return err
	}
	if dec := tc.obj("added_tokens_decoder"); dec != nil {
		ids := make([]int64, 0, len(dec.m))
		for k := range dec.m {
			var id int64
			if _, err := fmt.Sscan(k, &id); err != nil {
				return fmt.Errorf("%w: %s: added_tokens_decoder key %q is not an id", ErrBadInput, tc.path, k)
			}
			ids = append(ids, id)
		}
		sort.Slice(ids, func(a, b int) bool { return ids[a] < ids[b] })
		for _, id := range ids {
			if id < 0 || id >= int64(n) {
				continue
			}
			e, _ := dec.m[fmt.Sprint(id)].(map[string]any)
			content, ok := e["content"].(string)
			if !ok {
				return fmt.Errorf("%w: %s: added_tokens_decoder[%d] has no content", ErrBadInput, tc.path, id)
			}
			if special, _ := e["special"].(bool); special || doesTokenLookSpecial(content) {
				types[id] = TokenControl
			} else {
				content = strings.ReplaceAll(content, "\u2581", " ")
				types[id] = TokenUserDefined
			}
			tokens[id], scores[id] = content, -1000
		}
	}
	md.str("tokenizer.ggml.model", "llama")
	md.str("tokenizer.ggml.pre", "default")
	writeTokenList(md, tokens, scores, types)
	sv, err := loadSpecialVocab(dir, false, len(tokens), nil)
	if err != nil {
		return err
	}
	sv.write(md)
	return nil
}

// orderedObject decodes a flat JSON object keeping its key order.
func orderedObject(b []byte) ([]kv[any], error) {
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return nil, errors.New("not a JSON object")
	}
	var out []kv[any]
	for dec.More() {
		t, err := dec.Token()
		if err != nil {
			return nil, err
		}
		k, _ := t.(string)
		var v any
		if err := dec.Decode(&v); err != nil {
			return nil, err
		}
		out = append(out, kv[any]{k, v})
	}
	return out, nil
}

// tokenizerJSON is the part of a Hugging Face tokenizer.json conversion reads.
type tokenizerJSON struct {
	path        string
	modelType   string
	vocab       map[string]int64
	byteFB      bool
	ignoreMerge bool
	hasFB       bool
	decoderType string
	added       []addedToken
	pre         map[string]any
}

// addedToken is an entry of tokenizer.json's added_tokens (or tokenizer_config.json's
// added_tokens_decoder).
type addedToken struct {
	ID         int64
	Content    string
	Special    bool
	Normalized bool
}

func readTokenizerJSON(dir string) (*tokenizerJSON, error) {
	h, err := readJSONObject(filepath.Join(dir, "tokenizer.json"), true)
	if err != nil || h == nil {
		return nil, err
	}
	t := &tokenizerJSON{path: h.path}
	model := h.obj("model")
	if model == nil {
		return nil, fmt.Errorf("%w: %s: no \"model\" object", ErrBadInput, h.path)
	}
	t.modelType = model.str("type")
	t.byteFB, t.hasFB = model.raw("byte_fallback").(bool)
	t.ignoreMerge = model.boolOr("ignore_merges", false)
	if d := h.obj("decoder"); d != nil {
		t.decoderType = d.str("type")
	}
	if v := model.obj("vocab"); v != nil {
		t.vocab = make(map[string]int64, len(v.m))
		for k, x := range v.m {
			id, ok := intOf(x)
			if !ok || id < 0 {
				return nil, fmt.Errorf("%w: %s: vocab entry %q has id %v", ErrBadInput, h.path, k, x)
			}
			t.vocab[k] = id
		}
	}
	list, _ := h.raw("added_tokens").([]any)
	for i, a := range list {
		m, _ := a.(map[string]any)
		id, ok := intOf(m["id"])
		content, ok2 := m["content"].(string)
		if !ok || !ok2 || id < 0 {
			return nil, fmt.Errorf("%w: %s: added_tokens[%d] needs an id and a content", ErrBadInput, h.path, i)
		}
		special, _ := m["special"].(bool)
		normalized, _ := m["normalized"].(bool)
		t.added = append(t.added, addedToken{ID: id, Content: content, Special: special, Normalized: normalized})
	}
	t.pre, _ = h.raw("pre_tokenizer").(map[string]any)
	return t, nil
}

// isLlamaHF reports whether tokenizer.json is a SentencePiece-style BPE with byte fallback that
// llama.cpp converts with LlamaHfVocab (tokenizer.ggml.model "llama").
func (t *tokenizerJSON) isLlamaHF() bool {
	return t.modelType == "BPE" && t.hasFB && t.byteFB && t.decoderType == "Sequence"
}

// addedTokens merges tokenizer.json's added_tokens with tokenizer_config.json's
// added_tokens_decoder (which transformers also loads), keyed by id.
func addedTokens(t *tokenizerJSON, tc *hparams) (map[int64]addedToken, error) {
	out := map[int64]addedToken{}
	for _, a := range t.added {
		out[a.ID] = a
	}
	if dec := tc.obj("added_tokens_decoder"); dec != nil {
		for k, v := range dec.m {
			var id int64
			if _, err := fmt.Sscan(k, &id); err != nil || id < 0 {
				return nil, fmt.Errorf("%w: %s: added_tokens_decoder key %q is not an id", ErrBadInput, tc.path, k)
			}
			if _, ok := out[id]; ok {
				continue
			}
			m, _ := v.(map[string]any)
			content, ok := m["content"].(string)
			if !ok {
				return nil, fmt.Errorf("%w: %s: added_tokens_decoder[%s] has no content", ErrBadInput, tc.path, k)
			}
			special, _ := m["special"].(bool)
			normalized, _ := m["normalized"].(bool)
			out[id] = addedToken{ID: id, Content: content, Special: special, Normalized: normalized}
		}
	}
	return out, nil
}

// gpt2Vocab writes a byte-level BPE vocabulary (tokenizer.json) the way llama.cpp's
// _set_vocab_gpt2 does: every id below config.json's vocab_size in order, added tokens typed
// CONTROL (special) or USER_DEFINED, holes filled with [PADn] tokens, the merges, and the
// pre-tokenizer name detected from the pre_tokenizer (see detectPre).
func gpt2Vocab(md *mdBuilder, dir string, c Config, opts Options) error {
	t, err := readTokenizerJSON(dir)
	if err != nil {
		return err
	}
	if t == nil {
		return fmt.Errorf("%w: %s: no tokenizer.model or tokenizer.json", ErrBadInput, dir)
	}
	if t.modelType != "BPE" {
		return fmt.Errorf("%w: %s: tokenizer model type %q is not supported (want BPE)", ErrBadInput, t.path, t.modelType)
	}
	tc, err := readJSONObject(filepath.Join(dir, "tokenizer_config.json"), true)
	if err != nil {
		return err
	}
	added, err := addedTokens(t, tc)
	if err != nil {
		return err
	}
	reverse := make(map[int64]string, len(t.vocab)+len(added))
	var maxID int64 = -1
	for tok, id := range t.vocab {
		if prev, dup := reverse[id]; dup && prev < tok {
			continue // deterministic choice for (malformed) duplicate ids
		}
		reverse[id] = tok
		maxID = max(maxID, id)
	}
	addedByContent := map[string]int64{}
	for id, a := range added {
		reverse[id] = a.Content
		addedByContent[a.Content] = id
		maxID = max(maxID, id)
	}
	n := int64(c.VocabSize)
	if n <= 0 {
		n = int64(len(reverse))
	}
	if maxID >= n {
		return fmt.Errorf("%w: %s: token id %d is not below config.json's vocab_size %d", ErrBadInput, t.path, maxID, n)
	}
	pre := opts.TokenizerPre
	if pre == "" {
		if pre, err = detectPre(t); err != nil {
			return err
		}
	}
	tokens := make([]string, n)
	types := make([]int32, n)
	for i := int64(0); i < n; i++ {
		tok, ok := reverse[i]
		if !ok {
			tokens[i], types[i] = fmt.Sprintf("[PAD%d]", i), TokenUnused
			continue
		}
		if _, isAdded := addedByContent[tok]; isAdded {
			a := added[i]
			if a.Special || doesTokenLookSpecial(tok) {
				types[i] = TokenControl
			} else {
				tok = strings.ReplaceAll(tok, "\u2581", " ")
				types[i] = TokenUserDefined
			}
		} else {
			types[i] = TokenNormal
		}
		tokens[i] = tok
	}
	md.str("tokenizer.ggml.model", "gpt2")
	md.str("tokenizer.ggml.pre", pre)
	writeTokenList(md, tokens, nil, types)
	sv, err := loadSpecialVocab(dir, true, 0, nil)
	if err != nil {
		return err
	}
	sv.write(md)
	return nil
}

// llamaHFVocab writes a SentencePiece-style BPE tokenizer.json (byte fallback, no
// tokenizer.model) as llama.cpp's LlamaHfVocab does: base tokens typed BYTE (<0xNN>), CONTROL
// (special) or NORMAL, then the added tokens beyond the base vocabulary; every score -1000.
func llamaHFVocab(md *mdBuilder, dir string, t *tokenizerJSON) error {
	tc, err := readJSONObject(filepath.Join(dir, "tokenizer_config.json"), true)
	if err != nil {
		return err
	}
	added, err := addedTokens(t, tc)
	if err != nil {
		return err
	}
	base := int64(len(t.vocab))
	specials := map[string]bool{}
	for _, k := range []string{"bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"} {
		switch e := tc.raw(k).(type) {
		case string:
			specials[e] = true
		case map[string]any:
			if s, ok := e["content"].(string); ok {
				specials[s] = true
			}
		}
	}
	for _, s := range tc.strings("additional_special_tokens") {
		specials[s] = true
	}
	specialIDs := map[int64]bool{}
	for s := range specials {
		if id, ok := t.vocab[s]; ok {
			specialIDs[id] = true
		}
		for id, a := range added {
			if a.Content == s {
				specialIDs[id] = true
			}
		}
	}
	reverse := make(map[int64]string, len(t.vocab))
	for tok, id := range t.vocab {
		reverse[id] = tok
	}
	byteRE := regexp.MustCompile(`^<0x[0-9A-Fa-f]{2}>$`)
	var tokens []string
	var scores []float32
	var types []int32
	var addedIDs []int64
	for id := range added {
		if id >= base {
			addedIDs = append(addedIDs, id)
		}
	}
	sort.Slice(addedIDs, func(a, b int) bool { return addedIDs[a] < addedIDs[b] })
	for id := int64(0); id < base; id++ {
		tok, ok := reverse[id]
		if !ok {
			return fmt.Errorf("%w: %s: vocabulary has no token with id %d", ErrBadInput, t.path, id)
		}
		typ := int32(TokenNormal)
		switch {
		case byteRE.MatchString(tok):
			typ = TokenByte
		case specialIDs[id]:
			typ = TokenControl
		}
		tokens, scores, types = append(tokens, tok), append(scores, -1000), append(types, typ)
	}
	for _, id := range addedIDs {
		a := added[id]
		typ := int32(TokenUserDefined)
		if specials[a.Content] {
			typ = TokenControl
			if byteRE.MatchString(a.Content) {
				typ = TokenByte
			}
		}
		tokens, scores, types = append(tokens, a.Content), append(scores, -1000), append(types, typ)
	}
	md.str("tokenizer.ggml.model", "llama")
	md.str("tokenizer.ggml.pre", "default")
	writeTokenList(md, tokens, scores, types)
	sv, err := loadSpecialVocab(dir, false, len(tokens), nil)
	if err != nil {
		return err
	}
	sv.write(md)
	return nil
}
