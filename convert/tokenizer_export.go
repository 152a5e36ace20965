package convert

import (
	"fmt"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// hfTokenizerFiles reconstructs the Hugging Face tokenizer files from GGUF tokenizer metadata:
// tokenizer.model for SentencePiece ("llama") vocabularies, tokenizer.json for byte-level BPE
// ("gpt2") ones whose pre-tokenizer we can rebuild, plus tokenizer_config.json and
// special_tokens_map.json. What cannot be rebuilt is reported in the notes.
func hfTokenizerFiles(md gguf.Metadata, c Config) (map[string][]byte, []string, error) {
	files := map[string][]byte{}
	var notes []string
	model, _ := md.String("tokenizer.ggml.model")
	tokens, ok := md.Strings("tokenizer.ggml.tokens")
	if model == "" || !ok {
		return files, []string{"no tokenizer in the GGUF file: no tokenizer files written"}, nil
	}
	types, _ := md.Int32s("tokenizer.ggml.token_type")
	scores, _ := md.Float32s("tokenizer.ggml.scores")
	if types != nil && len(types) != len(tokens) {
		return nil, nil, fmt.Errorf("%w: %d token types for %d tokens", ErrBadInput, len(types), len(tokens))
	}
	if scores != nil && len(scores) != len(tokens) {
		return nil, nil, fmt.Errorf("%w: %d token scores for %d tokens", ErrBadInput, len(scores), len(tokens))
	}
	typeOf := func(i int) int32 {
		if types == nil {
			return TokenNormal
		}
		return types[i]
	}
	id := func(typ string) (int, bool) {
		v, ok := md.Uint(specialIDKeys[typ])
		if !ok || v >= uint64(len(tokens)) {
			return 0, false
		}
		return int(v), true
	}
	tc := map[string]any{}
	stm := map[string]any{}
	for _, typ := range []string{"bos", "eos", "unk", "sep", "pad", "mask"} {
		if i, ok := id(typ); ok {
			tc[typ+"_token"] = tokens[i]
			stm[typ+"_token"] = tokens[i]
		}
	}
	addBOS, hasAddBOS := md.Bool("tokenizer.ggml.add_bos_token")
	addEOS, hasAddEOS := md.Bool("tokenizer.ggml.add_eos_token")
	if hasAddBOS {
		tc["add_bos_token"] = addBOS
	}
	if hasAddEOS {
		tc["add_eos_token"] = addEOS
	}
	if b, ok := md.Bool("tokenizer.ggml.add_space_prefix"); ok {
		tc["add_prefix_space"] = b
	}
	if t, ok := md.String("tokenizer.chat_template"); ok {
		tc["chat_template"] = t
	}
	if names, ok := md.Strings("tokenizer.chat_templates"); ok {
		var list []any
		if t, ok := md.String("tokenizer.chat_template"); ok {
			o := newOrdered()
			o.set("name", "default")
			o.set("template", t)
			list = append(list, o)
		}
		for _, n := range names {
			if t, ok := md.String("tokenizer.chat_template." + n); ok {
				o := newOrdered()
				o.set("name", n)
				o.set("template", t)
				list = append(list, o)
			}
		}
		tc["chat_template"] = list
	}
	tc["model_max_length"] = c.ContextLength
	tc["clean_up_tokenization_spaces"] = false
	switch model {
	case "llama":
		spm := &SPMModel{
			ModelType: 2, VocabSize: int32(len(tokens)), UnkID: -1, BOSID: -1, EOSID: -1, PadID: -1,
			UnkPiece: "<unk>", BOSPiece: "<s>", EOSPiece: "</s>", PadPiece: "<pad>",
			NormalizerName: "identity", AddDummyPrefix: true, EscapeWhitespaces: true,
		}
		if b, ok := md.Bool("tokenizer.ggml.add_space_prefix"); ok {
			spm.AddDummyPrefix = b
		}
		if b, ok := md.Bool("tokenizer.ggml.remove_extra_whitespaces"); ok {
			spm.RemoveExtraWhitespaces = b
		}
		decoder := map[string]any{}
		for i, tok := range tokens {
			p := SPMPiece{Piece: tok, Type: typeOf(i)}
			if scores != nil {
				p.Score = scores[i]
			}
			switch p.Type {
			case TokenByte:
				spm.ByteFallback = true
			case TokenUnknown:
				if spm.UnkID < 0 {
					spm.UnkID = int32(i)
				}
			case TokenUserDefined:
				// SentencePiece user-defined pieces read back as NORMAL in llama.cpp; these
				// came from added tokens, so they go back there.
				e := newOrdered()
				e.set("content", tok)
				e.set("lstrip", false)
				e.set("normalized", false)
				e.set("rstrip", false)
				e.set("single_word", false)
				e.set("special", false)
				decoder[fmt.Sprint(i)] = e
			case TokenNormal, TokenControl, TokenUnused:
			default:
				p.Type = TokenNormal
			}
			spm.Pieces = append(spm.Pieces, p)
		}
		for _, s := range []struct {
			typ   string
			id    *int32
			piece *string
		}{{"unk", &spm.UnkID, &spm.UnkPiece}, {"bos", &spm.BOSID, &spm.BOSPiece}, {"eos", &spm.EOSID, &spm.EOSPiece}, {"pad", &spm.PadID, &spm.PadPiece}} {
			if i, ok := id(s.typ); ok {
				*s.id, *s.piece = int32(i), tokens[i]
			}
		}
		if spm.UnkID >= 0 {
			spm.UnkPiece = tokens[spm.UnkID]
		}
		files["tokenizer.model"] = spm.Marshal()
		if len(decoder) > 0 {
			tc["added_tokens_decoder"] = decoder
		}
		tc["tokenizer_class"] = "LlamaTokenizer"
		tc["legacy"] = true
	case "gpt2":
		pre, _ := md.String("tokenizer.ggml.pre")
		preJSON := preTokenizerJSON(pre)
		if preJSON == nil {
			notes = append(notes, fmt.Sprintf("byte-level BPE pre-tokenizer %q cannot be rebuilt: tokenizer.json not written (the folder does not convert back without one)", pre))
			break
		}
		merges, _ := md.Strings("tokenizer.ggml.merges")
		addSep, hasAddSep := md.Bool("tokenizer.ggml.add_sep_token")
		if hasAddSep && addSep {
			notes = append(notes, "add_sep_token=true is not carried over")
		}
		tj, err := bpeTokenizerJSON(tokens, types, merges, preJSON, pre, tc, addBOS && hasAddBOS, addEOS && hasAddEOS, hasAddSep && !addSep)
		if err != nil {
			return nil, nil, err
		}
		files["tokenizer.json"] = tj
		tc["tokenizer_class"] = "PreTrainedTokenizerFast"
	default:
		notes = append(notes, fmt.Sprintf("tokenizer model %q is not supported: no tokenizer files written", model))
		return files, notes, nil
	}
	var err error
	if files["tokenizer_config.json"], err = pyJSON(tc, true, false); err != nil {
		return nil, nil, err
	}
	if files["special_tokens_map.json"], err = pyJSON(stm, true, false); err != nil {
		return nil, nil, err
	}
	return files, notes, nil
}

// bpeTokenizerJSON writes a Hugging Face tokenizer.json for a byte-level BPE vocabulary:
// CONTROL and USER_DEFINED tokens become added tokens, UNUSED [PADn] fillers are left out,
// merges are kept as "a b" strings (the form llama.cpp stores), and a TemplateProcessing
// post-processor adds BOS/EOS when the GGUF file asks for it.
//
// llama3Pair asks for Llama 3's pair template (BOS before each sequence), which llama.cpp reads
// as add_sep_token=false.
func bpeTokenizerJSON(tokens []string, types []int32, merges []string, pre any, preName string, tc map[string]any, addBOS, addEOS, llama3Pair bool) ([]byte, error) {
	vocab := newOrdered()
	var added []any
	for i, tok := range tokens {
		t := int32(TokenNormal)
		if types != nil {
			t = types[i]
		}
		switch t {
		case TokenControl, TokenUserDefined:
			a := newOrdered()
			a.set("id", i)
			a.set("content", tok)
			a.set("single_word", false)
			a.set("lstrip", false)
			a.set("rstrip", false)
			a.set("normalized", t == TokenUserDefined)
			a.set("special", t == TokenControl)
			added = append(added, a)
		case TokenUnused:
			if strings.HasPrefix(tok, "[PAD") {
				continue
			}
			vocab.set(tok, i)
		default:
			if _, dup := vocab.get(tok); dup {
				return nil, fmt.Errorf("%w: token %q appears twice in the vocabulary", ErrBadInput, tok)
			}
			vocab.set(tok, i)
		}
	}
	mergeList := make([]any, len(merges))
	for i, m := range merges {
		mergeList[i] = m
	}
	m := newOrdered()
	m.set("type", "BPE")
	m.set("dropout", nil)
	m.set("unk_token", nil)
	m.set("continuing_subword_prefix", nil)
	m.set("end_of_word_suffix", nil)
	m.set("fuse_unk", false)
	m.set("byte_fallback", false)
	m.set("ignore_merges", preName == "llama-bpe")
	m.set("vocab", vocab)
	m.set("merges", mergeList)
	root := newOrdered()
	root.set("version", "1.0")
	root.set("truncation", nil)
	root.set("padding", nil)
	if added == nil {
		added = []any{}
	}
	root.set("added_tokens", added)
	root.set("normalizer", nil)
	root.set("pre_tokenizer", pre)
	byteLevel := func() *orderedJSON {
		o := newOrdered()
		o.set("type", "ByteLevel")
		o.set("add_prefix_space", true)
		o.set("trim_offsets", false)
		o.set("use_regex", true)
		return o
	}
	post := any(byteLevel())
	bos, _ := tc["bos_token"].(string)
	eos, _ := tc["eos_token"].(string)
	if (addBOS && bos != "") || (addEOS && eos != "") {
		special := func(s string) any {
			st := newOrdered()
			st.set("id", s)
			st.set("type_id", 0)
			o := newOrdered()
			o.set("SpecialToken", st)
			return o
		}
		seq := func(s string, typeID int) any {
			st := newOrdered()
			st.set("id", s)
			st.set("type_id", typeID)
			o := newOrdered()
			o.set("Sequence", st)
			return o
		}
		var single, pair []any
		specials := newOrdered()
		addSpecial := func(s string) {
			e := newOrdered()
			e.set("id", s)
			e.set("ids", []any{indexOf(tokens, s)})
			e.set("tokens", []any{s})
			specials.set(s, e)
		}
		if addBOS && bos != "" {
			single = append(single, special(bos))
			pair = append(pair, special(bos))
			addSpecial(bos)
		}
		single = append(single, seq("A", 0))
		pair = append(pair, seq("A", 0))
		if llama3Pair && addBOS && bos != "" {
			st := newOrdered()
			st.set("id", bos)
			st.set("type_id", 1)
			o := newOrdered()
			o.set("SpecialToken", st)
			pair = append(pair, o)
		}
		pair = append(pair, seq("B", 1))
		if addEOS && eos != "" {
			single = append(single, special(eos))
			pair = append(pair, special(eos))
			addSpecial(eos)
		}
		tp := newOrdered()
		tp.set("type", "TemplateProcessing")
		tp.set("single", single)
		tp.set("pair", pair)
		tp.set("special_tokens", specials)
		seqProc := newOrdered()
		seqProc.set("type", "Sequence")
		seqProc.set("processors", []any{byteLevel(), tp})
		post = seqProc
	}
	root.set("post_processor", post)
	dec := byteLevel()
	root.set("decoder", dec)
	root.set("model", m)
	return pyJSON(root, false, false)
}

func indexOf(tokens []string, s string) int {
	for i, t := range tokens {
		if t == s {
			return i
		}
	}
	return -1
}
