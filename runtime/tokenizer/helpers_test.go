package tokenizer

import (
	"fmt"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// piece is one token of a synthetic vocabulary.
type piece struct {
	text  string
	score float32
	typ   int32
}

// spmPieces returns the head of a llama-style SentencePiece vocabulary: <unk>, <s>, </s> and the
// 256 byte tokens (ids 3..258), followed by extra.
func spmPieces(extra ...piece) []piece {
	p := []piece{{"<unk>", 0, typeUnknown}, {"<s>", 0, typeControl}, {"</s>", 0, typeControl}}
	for b := 0; b < 256; b++ {
		p = append(p, piece{fmt.Sprintf("<0x%02X>", b), 0, typeByte})
	}
	return append(p, extra...)
}

// spmMeta builds tokenizer metadata for a "llama" vocabulary.
func spmMeta(pieces []piece, extra ...gguf.KV) gguf.Metadata {
	var texts []string
	var scores []float32
	var types []int32
	for _, p := range pieces {
		texts = append(texts, p.text)
		scores = append(scores, p.score)
		typ := p.typ
		if typ == 0 {
			typ = typeNormal
		}
		types = append(types, typ)
	}
	md := gguf.Metadata{
		{Key: keyModel, Value: "llama"},
		{Key: keyTokens, Value: gguf.Array{Type: gguf.ValueString, Values: texts}},
		{Key: keyScores, Value: gguf.Array{Type: gguf.ValueFloat32, Values: scores}},
		{Key: keyTokenType, Value: gguf.Array{Type: gguf.ValueInt32, Values: types}},
		{Key: "tokenizer.ggml.bos_token_id", Value: uint32(1)},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(2)},
		{Key: "tokenizer.ggml.unknown_token_id", Value: uint32(0)},
	}
	for _, kv := range extra {
		md.Set(kv.Key, kv.Value)
	}
	return md
}

// bpeVocab describes a synthetic byte-level BPE vocabulary: the 256 byte characters (ids 0..255
// in byte order), then the result of every merge in order, then the special tokens.
type bpeVocab struct {
	merges   []string // "left right" in GPT-2 characters, e.g. "Ġ t"
	extra    []string // further normal tokens
	specials []piece  // control or user-defined tokens
}

func (v bpeVocab) meta(pre string, extra ...gguf.KV) gguf.Metadata {
	var texts []string
	var types []int32
	seen := map[string]bool{}
	add := func(s string, typ int32) {
		if !seen[s] {
			seen[s] = true
			texts = append(texts, s)
			types = append(types, typ)
		}
	}
	for b := 0; b < 256; b++ {
		add(string(byteToRune[b]), typeNormal)
	}
	for _, m := range v.merges {
		add(strings.Replace(m, " ", "", 1), typeNormal)
	}
	for _, s := range v.extra {
		add(s, typeNormal)
	}
	for _, s := range v.specials {
		add(s.text, s.typ)
	}
	md := gguf.Metadata{
		{Key: keyModel, Value: "gpt2"},
		{Key: keyPre, Value: pre},
		{Key: keyTokens, Value: gguf.Array{Type: gguf.ValueString, Values: texts}},
		{Key: keyTokenType, Value: gguf.Array{Type: gguf.ValueInt32, Values: types}},
		{Key: keyMerges, Value: gguf.Array{Type: gguf.ValueString, Values: append([]string(nil), v.merges...)}},
	}
	for _, kv := range extra {
		md.Set(kv.Key, kv.Value)
	}
	return md
}

func mustTokenizer(t testing.TB, md gguf.Metadata) *Tokenizer {
	t.Helper()
	tok, err := FromGGUF(md)
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// ids returns the ids of the given vocabulary texts.
func ids(t testing.TB, tok *Tokenizer, texts ...string) []int32 {
	t.Helper()
	out := make([]int32, 0, len(texts))
	for _, s := range texts {
		id, ok := tok.TokenID(s)
		if !ok {
			t.Fatalf("no token %q", s)
		}
		out = append(out, id)
	}
	return out
}

// texts returns the vocabulary texts of ids, for readable failures.
func texts(tok *Tokenizer, ids []int32) []string {
	out := make([]string, len(ids))
	for i, id := range ids {
		out[i] = tok.Text(id)
	}
	return out
}
