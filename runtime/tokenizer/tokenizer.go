package tokenizer

import (
	"errors"
	"fmt"
	"math"
	"sort"
	"strings"
	"sync"

	"github.com/mcompress/mcompress/convert/gguf"
)

// NoToken is the id that stands for "no such token" (llama.cpp's LLAMA_TOKEN_NULL).
const NoToken int32 = -1

// ErrMetadata is wrapped by every error about missing or malformed tokenizer metadata.
var ErrMetadata = errors.New("bad tokenizer metadata")

// Attr holds the attributes of a token, with llama.cpp's llama_token_attr bit values.
type Attr uint32

// Token attributes.
const (
	AttrUndefined   Attr = 0
	AttrUnknown     Attr = 1 << 0
	AttrUnused      Attr = 1 << 1
	AttrNormal      Attr = 1 << 2
	AttrControl     Attr = 1 << 3
	AttrUserDefined Attr = 1 << 4
	AttrByte        Attr = 1 << 5
	AttrNormalized  Attr = 1 << 6
	AttrLStrip      Attr = 1 << 7 // whitespace before the token is dropped when it is matched
	AttrRStrip      Attr = 1 << 8 // whitespace after the token is dropped when it is matched
	AttrSingleWord  Attr = 1 << 9
)

// Token types of tokenizer.ggml.token_type (llama_token_type).
const (
	typeUndefined   = 0
	typeNormal      = 1
	typeUnknown     = 2
	typeControl     = 3
	typeUserDefined = 4
	typeUnused      = 5
	typeByte        = 6
)

// Metadata keys.
const (
	keyModel       = "tokenizer.ggml.model"
	keyPre         = "tokenizer.ggml.pre"
	keyTokens      = "tokenizer.ggml.tokens"
	keyScores      = "tokenizer.ggml.scores"
	keyTokenType   = "tokenizer.ggml.token_type"
	keyMerges      = "tokenizer.ggml.merges"
	keyAddBOS      = "tokenizer.ggml.add_bos_token"
	keyAddEOS      = "tokenizer.ggml.add_eos_token"
	keyAddPrefix   = "tokenizer.ggml.add_space_prefix"
	keyGeneralName = "general.name"
	keyArch        = "general.architecture"
)

// Kind is the tokenizer algorithm.
type Kind int

// Tokenizer kinds.
const (
	KindSPM Kind = iota // SentencePiece BPE ("llama")
	KindBPE             // byte-level BPE ("gpt2", "gemma4")
)

// String returns llama.cpp's name of the kind.
func (k Kind) String() string {
	if k == KindSPM {
		return "SPM"
	}
	return "BPE"
}

// Special holds the special token ids of a vocabulary, NoToken where there is none.
type Special struct {
	// BOS and EOS begin and end a sequence; EOT ends a turn and EOM a message (tool calls);
	// UNK stands for unknown text, SEP separates, PAD pads and MASK masks.
	BOS, EOS, EOT, EOM, UNK, SEP, PAD, MASK int32
	// FIMPre, FIMSuf and FIMMid mark the prefix, suffix and middle of fill-in-the-middle
	// prompts; FIMPad, FIMRep (repository) and FIMSep (file separator) go with them.
	FIMPre, FIMSuf, FIMMid, FIMPad, FIMRep, FIMSep int32
	// Newline is the token of "\n" (the <0x0A> byte token for SentencePiece).
	Newline int32
}

// Tokenizer encodes and decodes text with one vocabulary. It is safe for concurrent use.
type Tokenizer struct {
	model string
	pre   string
	kind  Kind
	spec  preSpec
	steps []splitStep

	tokens []string
	scores []float32
	attrs  []Attr
	index  map[string]int32

	special        Special
	addBOS, addEOS bool
	addSpacePrefix bool
	escapeSpaces   bool
	byteEncode     bool
	ignoreMerges   bool
	cleanSpaces    bool

	eog       []bool
	eogIDs    []int32
	partOrder []int32 // special tokens in partition order (longest text first)
	trie      *specialTrie
	pieces    []string // token_to_piece with special rendering

	// SentencePiece byte fallback: the token for each byte, NoToken if none.
	byteTok [256]int32
	// pairs[a*pairStride+b] is set when characters of classes a and b (see pairClass) are next
	// to each other in some token; SentencePiece input is cut between characters that never are.
	pairs []bool

	// BPE symbol tables: symbols are token ids, or ids from len(tokens) on for merge strings
	// that are not tokens.
	extraSyms map[string]int32
	nSyms     int32
	merges    map[uint64]uint64 // left<<32|right -> rank<<32|merged
	byteSym   [256]int32        // symbol of each byte's GPT-2 character
	byteStr   [256]string       // GPT-2 character of each byte
	rawByte   [256]int32        // token whose text is the single raw byte (llama.cpp's fallback)

	scratchMu sync.Mutex
	scratch   []*scratch // free scratch spaces, each with its own word cache
}

// Open reads the tokenizer of the GGUF file at path.
func Open(path string) (*Tokenizer, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	defer f.Close()
	t, err := build(f.Metadata)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %s: %w", path, err)
	}
	return t, nil
}

func metaErr(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrMetadata, fmt.Sprintf(format, args...))
}

// FromGGUF builds the tokenizer described by a GGUF file's metadata. It returns an error
// wrapping ErrMetadata when a key is missing, has the wrong type, or disagrees with another.
func FromGGUF(md gguf.Metadata) (*Tokenizer, error) {
	t, err := build(md)
	if err != nil {
		return nil, fmt.Errorf("tokenizer: %w", err)
	}
	return t, nil
}

func build(md gguf.Metadata) (*Tokenizer, error) {
	t := &Tokenizer{}
	model, err := optString(md, keyModel)
	if err != nil {
		return nil, err
	}
	if !md.Has(keyModel) {
		return nil, metaErr("missing %s", keyModel)
	}
	pre, err := optString(md, keyPre)
	if err != nil {
		return nil, err
	}
	t.model, t.pre = model, pre

	sp := Special{BOS: NoToken, EOS: NoToken, EOT: NoToken, EOM: NoToken, UNK: NoToken, SEP: NoToken, PAD: NoToken,
		MASK: NoToken, FIMPre: NoToken, FIMSuf: NoToken, FIMMid: NoToken, FIMPad: NoToken, FIMRep: NoToken, FIMSep: NoToken, Newline: NoToken}
	switch model {
	case "llama":
		t.kind = KindSPM
		sp.BOS, sp.EOS, sp.UNK = 1, 2, 0
		t.addSpacePrefix, t.escapeSpaces, t.addBOS = true, true, true
	case "gpt2", "gemma4":
		t.kind = KindBPE
		if model == "gemma4" {
			pre = "gemma4"
			t.pre = pre
		} else {
			sp.BOS, sp.EOS = 11, 11
		}
		if pre == "" {
			pre = "default"
		}
		spec, ok := preSpecs[pre]
		if !ok {
			return nil, metaErr("unknown pre-tokenizer %s = %q", keyPre, pre)
		}
		t.spec = spec
		if t.steps, err = stepsFor(spec.kind); err != nil {
			return nil, err
		}
		t.ignoreMerges = spec.ignoreMerges
		t.cleanSpaces = !spec.keepSpaces
		t.addBOS = spec.addBOS
		t.escapeSpaces = spec.escapeSpaces
		t.byteEncode = !spec.rawBytes
		if spec.noBOS {
			sp.BOS = NoToken
		}
	case "":
		return nil, metaErr("%s is empty", keyModel)
	case "no_vocab", "none":
		return nil, metaErr("%s = %q: the file has no vocabulary", keyModel, model)
	case "bert", "t5", "rwkv", "plamo2", "hybriddna", "whitespace":
		return nil, metaErr("%s = %q is not supported (only llama and gpt2 vocabularies are)", keyModel, model)
	default:
		return nil, metaErr("unknown %s = %q", keyModel, model)
	}
	if v, ok, err := optBool(md, keyAddPrefix); err != nil {
		return nil, err
	} else if ok {
		t.addSpacePrefix = v
	}

	if err := t.loadVocab(md); err != nil {
		return nil, err
	}
	n := int32(len(t.tokens))
	if t.kind == KindBPE {
		if err := t.loadMerges(md); err != nil {
			return nil, err
		}
	}

	// Special token ids: the model's defaults (dropped when out of range), then the metadata.
	for _, p := range []*int32{&sp.BOS, &sp.EOS, &sp.UNK} {
		if *p >= n {
			*p = NoToken
		}
	}
	for _, k := range []struct {
		key string
		p   *int32
	}{
		{"tokenizer.ggml.bos_token_id", &sp.BOS},
		{"tokenizer.ggml.eos_token_id", &sp.EOS},
		{"tokenizer.ggml.eot_token_id", &sp.EOT},
		{"tokenizer.ggml.eom_token_id", &sp.EOM},
		{"tokenizer.ggml.unknown_token_id", &sp.UNK},
		{"tokenizer.ggml.seperator_token_id", &sp.SEP},
		{"tokenizer.ggml.padding_token_id", &sp.PAD},
		{"tokenizer.ggml.mask_token_id", &sp.MASK},
		{"tokenizer.ggml.fim_pre_token_id", &sp.FIMPre},
		{"tokenizer.ggml.fim_suf_token_id", &sp.FIMSuf},
		{"tokenizer.ggml.fim_mid_token_id", &sp.FIMMid},
		{"tokenizer.ggml.fim_pad_token_id", &sp.FIMPad},
		{"tokenizer.ggml.fim_rep_token_id", &sp.FIMRep},
		{"tokenizer.ggml.fim_sep_token_id", &sp.FIMSep},
		{"tokenizer.ggml.prefix_token_id", &sp.FIMPre},
		{"tokenizer.ggml.suffix_token_id", &sp.FIMSuf},
		{"tokenizer.ggml.middle_token_id", &sp.FIMMid},
	} {
		v, ok := md.Lookup(k.key)
		if !ok {
			continue
		}
		id, isInt := md.Int(k.key)
		if !isInt {
			return nil, metaErr("%s has type %T, want an integer", k.key, v)
		}
		if id >= 0 && id < int64(n) {
			*k.p = int32(id)
		}
		// Out of range (llama.cpp warns and keeps the default), or negative: keep the default.
	}
	if v, ok, err := optBool(md, keyAddBOS); err != nil {
		return nil, err
	} else if ok {
		t.addBOS = v
	}
	if v, ok, err := optBool(md, keyAddEOS); err != nil {
		return nil, err
	} else if ok {
		t.addEOS = v
	}
	if t.spec.forceBOS {
		t.addBOS = true
	}

	t.detectSpecial(&sp)
	t.special = sp
	t.buildPartitionOrder()
	t.buildSpecialTrie()
	name, _ := md.String(keyGeneralName)
	arch, _ := md.String(keyArch)
	t.applyModelAttrs(strings.ToLower(name), pre, arch)
	t.buildPieces()
	t.buildByteTables()
	t.buildPairs()
	t.special.Newline = t.newlineToken()
	return t, nil
}

func optString(md gguf.Metadata, key string) (string, error) {
	v, ok := md.Lookup(key)
	if !ok {
		return "", nil
	}
	s, ok := v.(string)
	if !ok {
		return "", metaErr("%s has type %T, want string", key, v)
	}
	return s, nil
}

func optBool(md gguf.Metadata, key string) (value, present bool, err error) {
	v, ok := md.Lookup(key)
	if !ok {
		return false, false, nil
	}
	b, ok := v.(bool)
	if !ok {
		return false, false, metaErr("%s has type %T, want bool", key, v)
	}
	return b, true, nil
}

// maxVocab bounds the vocabulary size (token ids are int32).
const maxVocab = math.MaxInt32 / 2

func (t *Tokenizer) loadVocab(md gguf.Metadata) error {
	v, ok := md.Lookup(keyTokens)
	if !ok {
		return metaErr("missing %s", keyTokens)
	}
	tokens, ok := md.Strings(keyTokens)
	if !ok {
		return metaErr("%s has type %s, want an array of strings", keyTokens, describe(v))
	}
	if len(tokens) == 0 {
		return metaErr("%s is empty", keyTokens)
	}
	if len(tokens) > maxVocab {
		return metaErr("%s has %d tokens, more than %d", keyTokens, len(tokens), maxVocab)
	}
	n := len(tokens)
	t.tokens = make([]string, n)
	t.scores = make([]float32, n)
	t.attrs = make([]Attr, n)
	t.index = make(map[string]int32, n)

	if v, ok := md.Lookup(keyScores); ok {
		if f, ok := md.Float32s(keyScores); ok {
			if len(f) < n {
				return metaErr("%s has %d scores for %d tokens", keyScores, len(f), n)
			}
			copy(t.scores, f)
		} else if iv, ok := md.Int32s(keyScores); ok {
			if len(iv) < n {
				return metaErr("%s has %d scores for %d tokens", keyScores, len(iv), n)
			}
			for i := range t.scores {
				t.scores[i] = float32(iv[i])
			}
		} else {
			return metaErr("%s has type %s, want an array of float32 or int32", keyScores, describe(v))
		}
	}
	var types []int32
	if v, ok := md.Lookup(keyTokenType); ok {
		if types, ok = md.Int32s(keyTokenType); !ok {
			return metaErr("%s has type %s, want an array of int32", keyTokenType, describe(v))
		}
		if len(types) < n {
			return metaErr("%s has %d entries for %d tokens", keyTokenType, len(types), n)
		}
	}
	for i, w := range tokens {
		if w == "" {
			w = fmt.Sprintf("[EMPTY_%d]", i)
		}
		if j, dup := t.index[w]; dup {
			return metaErr("%s: tokens %d and %d are both %q", keyTokens, j, i, w)
		}
		t.index[w] = int32(i)
		t.tokens[i] = w
		t.attrs[i] = AttrNormal
		if types != nil {
			switch types[i] {
			case typeUnknown:
				t.attrs[i] = AttrUnknown
			case typeUnused:
				t.attrs[i] = AttrUnused
			case typeNormal:
				t.attrs[i] = AttrNormal
			case typeControl:
				t.attrs[i] = AttrControl
			case typeUserDefined:
				t.attrs[i] = AttrUserDefined
			case typeByte:
				t.attrs[i] = AttrByte
			default:
				t.attrs[i] = AttrUndefined
			}
		}
	}
	return nil
}

// describe names the GGUF type of a metadata value for error messages.
func describe(v any) string {
	if a, ok := v.(gguf.Array); ok {
		return "array of " + a.Type.String()
	}
	if ty, err := gguf.TypeOf(v); err == nil {
		return ty.String()
	}
	return fmt.Sprintf("%T", v)
}

func (t *Tokenizer) loadMerges(md gguf.Metadata) error {
	v, ok := md.Lookup(keyMerges)
	if !ok {
		if t.pre == "kimi-k2" {
			t.merges = map[uint64]uint64{}
			t.nSyms = int32(len(t.tokens))
			return nil
		}
		return metaErr("missing %s (a BPE vocabulary needs its merges)", keyMerges)
	}
	merges, ok := md.Strings(keyMerges)
	if !ok {
		return metaErr("%s has type %s, want an array of strings", keyMerges, describe(v))
	}
	t.extraSyms = map[string]int32{}
	t.nSyms = int32(len(t.tokens))
	t.merges = make(map[uint64]uint64, len(merges))
	intern := func(s string) (int32, error) {
		if id, ok := t.index[s]; ok {
			return id, nil
		}
		if id, ok := t.extraSyms[s]; ok {
			return id, nil
		}
		if t.nSyms == math.MaxInt32 {
			return 0, metaErr("%s: too many symbols", keyMerges)
		}
		id := t.nSyms
		t.nSyms++
		t.extraSyms[s] = id
		return id, nil
	}
	for i, m := range merges {
		// llama.cpp splits at the first space after the first byte, so a merge of "" is
		// impossible and a leading space belongs to the left part.
		sp := -1
		if len(m) > 1 {
			sp = strings.IndexByte(m[1:], ' ')
		}
		if sp < 0 {
			return metaErr("%s[%d] = %q is not two pieces separated by a space", keyMerges, i, m)
		}
		a, b := m[:sp+1], m[sp+2:]
		la, err := intern(a)
		if err != nil {
			return err
		}
		lb, err := intern(b)
		if err != nil {
			return err
		}
		lm, err := intern(a + b)
		if err != nil {
			return err
		}
		key := uint64(uint32(la))<<32 | uint64(uint32(lb))
		if _, dup := t.merges[key]; !dup {
			t.merges[key] = uint64(uint32(i))<<32 | uint64(uint32(lm))
		}
	}
	return nil
}

// symbolOf returns the BPE symbol id of s, or NoToken if s is neither a token nor a merge part.
func (t *Tokenizer) symbolOf(s string) int32 {
	if id, ok := t.index[s]; ok {
		return id
	}
	if id, ok := t.extraSyms[s]; ok {
		return id
	}
	return NoToken
}

// Texts of tokens llama.cpp recognises as end-of-turn, end-of-message and fill-in-the-middle
// tokens when the metadata does not name them.
var (
	eotTexts    = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "<|end_of_text|>", "<EOT>", "_<EOT>", "[EOT]", "<｜end▁of▁sentence｜>", "<end_of_utterance>"}
	eomTexts    = []string{"<|eom_id|>"}
	fimPreTexts = []string{"<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<｜fim▁begin｜>", "<PRE>", "▁<PRE>", "<|code_prefix|>", "<|prefix|>"}
	fimSufTexts = []string{"<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>", "<｜fim▁hole｜>", "<SUF>", "▁<SUF>", "<|code_suffix|>", "<|suffix|>"}
	fimMidTexts = []string{"<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<｜fim▁end｜>", "<MID>", "▁<MID>", "<|code_middle|>", "<|middle|>"}
	fimPadTexts = []string{"<|fim_pad|>", "<fim-pad>", "<fim_pad>", "<PAD>", "[PAD]"}
	fimRepTexts = []string{"<|fim_repo|>", "<|repo_name|>", "<fim-repo>", "<REPO>", "<reponame>"}
	fimSepTexts = []string{"<|file_sep|>"}
	eogTexts    = []string{"<|eot_id|>", "<|im_end|>", "<|end|>", "<|return|>", "<|call|>", "<|flush|>", "<|calls|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>", "_<EOT>", "[EOT]", "[EOS]", "<|end_of_text|>", "<end_of_utterance>", "<eos>", "<turn|>", "<|tool_response>", "<｜end▁of▁sentence｜>", "[e~["}
)

// detectSpecial finds special tokens by their text, marks control-looking ones as control and
// builds the end-of-generation set, following llama.cpp's llama_vocab::impl::load. Where
// llama.cpp walks a hash map (so picks an unspecified one of several candidates), the lowest id
// wins here.
func (t *Tokenizer) detectSpecial(sp *Special) {
	byText := func(texts []string) int32 {
		best := NoToken
		for _, s := range texts {
			if id, ok := t.index[s]; ok && (best == NoToken || id < best) {
				best = id
			}
		}
		return best
	}
	for _, d := range []struct {
		p     *int32
		texts []string
	}{
		{&sp.EOT, eotTexts}, {&sp.EOM, eomTexts}, {&sp.FIMPre, fimPreTexts}, {&sp.FIMSuf, fimSufTexts},
		{&sp.FIMMid, fimMidTexts}, {&sp.FIMPad, fimPadTexts}, {&sp.FIMRep, fimRepTexts}, {&sp.FIMSep, fimSepTexts},
	} {
		if *d.p != NoToken {
			continue
		}
		if id := byText(d.texts); id != NoToken {
			*d.p = id
			t.attrs[id] |= AttrControl
		}
	}
	// Control tokens named "unused" are unused.
	for id, a := range t.attrs {
		if a&AttrControl != 0 && strings.Contains(t.tokens[id], "unused") {
			t.attrs[id] |= AttrUnused
		}
	}
	eog := map[int32]bool{}
	for _, id := range []int32{sp.FIMPad, sp.FIMRep, sp.FIMSep} {
		if id != NoToken {
			eog[id] = true
		}
	}
	for _, s := range eogTexts {
		if id, ok := t.index[s]; ok {
			eog[id] = true
			t.attrs[id] |= AttrControl
		}
	}
	// gpt-oss: these are always rendered.
	for _, s := range []string{"<|channel|>", "<|message|>", "<|start|>", "<|constrain|>"} {
		if id, ok := t.index[s]; ok {
			t.attrs[id] = AttrUserDefined
		}
	}
	for _, id := range []int32{sp.EOS, sp.EOT, sp.EOM} {
		if id != NoToken {
			eog[id] = true
		}
	}
	// o200k_harmony and solar-open: "<|end|>" ends a message, not the generation.
	has := func(s string) (int32, bool) {
		id, ok := t.index[s]
		return id, ok && eog[id]
	}
	_, hasReturn := has("<|return|>")
	_, hasCall := has("<|call|>")
	_, hasCalls := has("<|calls|>")
	_, hasFlush := has("<|flush|>")
	if endID, hasEnd := has("<|end|>"); hasEnd && ((hasReturn && (hasCall || hasCalls)) || ((hasCall || hasCalls) && hasFlush)) {
		delete(eog, endID)
		t.attrs[endID] = AttrUserDefined
	}
	// Gemma 4 and PaddleOCR: "</s>" is not an end of generation when "<|tool_response>" is one.
	if _, ok := has("<|tool_response>"); ok {
		if sID, ok := has("</s>"); ok {
			delete(eog, sID)
			t.attrs[sID] = AttrNormal
		}
	}
	t.eog = make([]bool, len(t.tokens))
	for id := range eog {
		t.eog[id] = true
		t.eogIDs = append(t.eogIDs, id)
	}
	sort.Slice(t.eogIDs, func(i, j int) bool { return t.eogIDs[i] < t.eogIDs[j] })
}

// buildPartitionOrder lists the control, user-defined and unknown tokens, longest text first
// (ties by id), the order in which they are cut out of the text.
func (t *Tokenizer) buildPartitionOrder() {
	t.partOrder = t.partOrder[:0]
	for id, a := range t.attrs {
		if a&(AttrControl|AttrUserDefined|AttrUnknown) != 0 {
			t.partOrder = append(t.partOrder, int32(id))
		}
	}
	sort.SliceStable(t.partOrder, func(i, j int) bool {
		return len(t.tokens[t.partOrder[i]]) > len(t.tokens[t.partOrder[j]])
	})
}

// applyModelAttrs sets the per-model token attributes llama.cpp hard-codes.
func (t *Tokenizer) applyModelAttrs(name, pre, arch string) {
	set := func(s string, a Attr, on bool) {
		if id, ok := t.index[s]; ok {
			if on {
				t.attrs[id] |= a
			} else {
				t.attrs[id] &^= a
			}
		}
	}
	containsAny := func(s string, subs ...string) bool {
		for _, x := range subs {
			if strings.Contains(s, x) {
				return true
			}
		}
		return false
	}
	switch {
	case containsAny(pre, "jina-v2-de", "jina-v2-es", "jina-v2-code") || containsAny(arch, "nomic-bert-moe", "jina-bert-v3"):
		set("<mask>", AttrLStrip, true)
	case containsAny(name, "phi-3", "phi3"):
		for _, id := range t.partOrder {
			t.attrs[id] |= AttrRStrip
		}
		set("</s>", AttrRStrip, true)
		for _, s := range []string{"<unk>", "<s>", "<|endoftext|>"} {
			set(s, AttrRStrip, false)
		}
	case containsAny(name, "modern-bert"):
		set("[MASK]", AttrLStrip, true)
	}
}

// buildByteTables prepares the byte fallback tables.
func (t *Tokenizer) buildByteTables() {
	for b := 0; b < 256; b++ {
		hex := fmt.Sprintf("<0x%02X>", b)
		t.byteTok[b] = NoToken
		t.rawByte[b] = NoToken
		switch {
		case t.kind == KindSPM || !t.byteEncode:
			if id, ok := t.index[hex]; ok {
				t.byteTok[b] = id
			} else if t.kind == KindSPM {
				if id, ok := t.index[string([]byte{byte(b)})]; ok {
					t.byteTok[b] = id
				}
			}
		}
		if id, ok := t.index[string([]byte{byte(b)})]; ok {
			t.rawByte[b] = id
		}
		t.byteStr[b] = string(byteToRune[b])
		if t.kind == KindBPE {
			t.byteSym[b] = t.symbolOf(t.byteStr[b])
		}
	}
}

// Character classes for the SentencePiece cut test: ASCII characters are their byte, U+2581
// is pairSpace, anything else is pairOther (never cut next to it).
const (
	pairSpace  = 128
	pairOther  = 129
	pairStride = 130
)

// pairClass returns the class of one character (a symbol's bytes).
func (t *Tokenizer) pairClass(s string) uint8 {
	switch {
	case len(s) == 1 && s[0] < 128:
		return s[0]
	case s == "\u2581":
		return pairSpace
	}
	return pairOther
}

// canCut reports whether no token has a character of class a followed by one of class b.
func (t *Tokenizer) canCut(a, b uint8) bool {
	return a != pairOther && b != pairOther && !t.pairs[int(a)*pairStride+int(b)]
}

// buildPairs records which pairs of character classes occur next to each other in tokens,
// walking each token's text by the same UTF-8 lead-byte lengths the merge loop starts from.
func (t *Tokenizer) buildPairs() {
	t.pairs = make([]bool, pairStride*pairStride)
	for _, s := range t.tokens {
		prev := uint8(pairOther)
		for off := 0; off < len(s); {
			n := min(utf8SeqLen(s[off]), len(s)-off)
			cls := t.pairClass(s[off : off+n])
			if off > 0 && prev != pairOther && cls != pairOther {
				t.pairs[int(prev)*pairStride+int(cls)] = true
			}
			prev = cls
			off += n
		}
	}
}

// newlineToken returns the token of "\n" as llama.cpp determines it.
func (t *Tokenizer) newlineToken() int32 {
	if t.kind == KindSPM {
		if id := t.byteTok['\n']; id != NoToken {
			return id
		}
		return t.special.PAD
	}
	ids, err := t.Encode("\n", EncodeOptions{})
	if err != nil || len(ids) == 0 {
		return t.special.PAD
	}
	return ids[0]
}

// Kind returns the tokenizer algorithm.
func (t *Tokenizer) Kind() Kind { return t.kind }

// Model returns tokenizer.ggml.model ("llama", "gpt2" or "gemma4").
func (t *Tokenizer) Model() string { return t.model }

// Pre returns tokenizer.ggml.pre as read ("" when absent, "gemma4" for gemma4 vocabularies).
func (t *Tokenizer) Pre() string { return t.pre }

// VocabSize returns the number of tokens.
func (t *Tokenizer) VocabSize() int { return len(t.tokens) }

// Special returns the special token ids.
func (t *Tokenizer) Special() Special { return t.special }

// BOS returns the beginning-of-sequence token, or NoToken.
func (t *Tokenizer) BOS() int32 { return t.special.BOS }

// EOS returns the end-of-sequence token, or NoToken.
func (t *Tokenizer) EOS() int32 { return t.special.EOS }

// EOT returns the end-of-turn token, or NoToken.
func (t *Tokenizer) EOT() int32 { return t.special.EOT }

// UNK returns the unknown token, or NoToken.
func (t *Tokenizer) UNK() int32 { return t.special.UNK }

// AddBOS reports whether the model wants a BOS token before the text (add_bos_token).
func (t *Tokenizer) AddBOS() bool { return t.addBOS }

// AddEOS reports whether the model wants an EOS token after the text (add_eos_token).
func (t *Tokenizer) AddEOS() bool { return t.addEOS }

// AddSpacePrefix reports whether a space is put before the text (SentencePiece's
// add_dummy_prefix).
func (t *Tokenizer) AddSpacePrefix() bool { return t.addSpacePrefix }

// IsEOG reports whether id ends generation: the EOS, EOT and EOM tokens and tokens such as
// <|im_end|>, <|eot_id|> or <end_of_turn>, as llama.cpp marks them.
func (t *Tokenizer) IsEOG(id int32) bool {
	return id >= 0 && int(id) < len(t.eog) && t.eog[id]
}

// EOG returns the end-of-generation tokens in id order.
func (t *Tokenizer) EOG() []int32 { return append([]int32(nil), t.eogIDs...) }

// Text returns the vocabulary text of id ("" if out of range), e.g. "▁Hello" or "Ġworld".
func (t *Tokenizer) Text(id int32) string {
	if id < 0 || int(id) >= len(t.tokens) {
		return ""
	}
	return t.tokens[id]
}

// Score returns the score of id (0 if out of range or absent).
func (t *Tokenizer) Score(id int32) float32 {
	if id < 0 || int(id) >= len(t.scores) {
		return 0
	}
	return t.scores[id]
}

// Attr returns the attributes of id (AttrUndefined if out of range).
func (t *Tokenizer) Attr(id int32) Attr {
	if id < 0 || int(id) >= len(t.attrs) {
		return AttrUndefined
	}
	return t.attrs[id]
}

// TokenID returns the id of the token whose vocabulary text is s.
func (t *Tokenizer) TokenID(s string) (int32, bool) {
	id, ok := t.index[s]
	return id, ok
}
