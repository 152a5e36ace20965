package tokenizer

import (
	"bytes"
	"slices"
	"strings"
	"sync"
	"testing"
	"unicode/utf8"

	"github.com/mcompress/mcompress/convert/gguf"
)

var (
	fuzzOnce sync.Once
	fuzzSPM  *Tokenizer
	fuzzBPE  []*Tokenizer
)

// fuzzTokenizers builds the synthetic tokenizers the fuzz targets share: a SentencePiece
// vocabulary with byte fallback, and a byte-level BPE vocabulary under several pre-tokenizers
// (hand-written splitters and regex ones).
func fuzzTokenizers(t testing.TB) (*Tokenizer, []*Tokenizer) {
	fuzzOnce.Do(func() {
		var err error
		if fuzzSPM, err = FromGGUF(spmMeta(testSPMPieces())); err != nil {
			t.Fatal(err)
		}
		for _, pre := range []string{"gpt-2", "llama-bpe", "qwen2", "qwen35", "deepseek-llm", "deepseek-coder", "falcon", "starcoder", "default", "poro-chat", "tekken", "chameleon", "gpt-4o", "kimi-k2", "afmoe", "superbpe", "exaone-moe", "jais-2"} {
			tok, err := FromGGUF(testBPE.meta(pre))
			if err != nil {
				t.Fatal(err)
			}
			fuzzBPE = append(fuzzBPE, tok)
		}
	})
	return fuzzSPM, fuzzBPE
}

// FuzzSPMRoundTrip checks Decode(Encode(s)) == s for SentencePiece with byte fallback, for valid
// UTF-8 without U+2581 (which decodes as a space, as in llama.cpp).
func FuzzSPMRoundTrip(f *testing.F) {
	for _, s := range []string{"", "hello world", "  x  ", "a\n\nb", "héllo ✓ 🦙", "<s></s><unk>", "aaaa aa", "\t\r\n"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spm, _ := fuzzTokenizers(t)
		ids, err := spm.Encode(s, EncodeOptions{AddSpecial: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(ids) == 0 || ids[0] != spm.BOS() {
			t.Fatalf("no BOS: %v", ids)
		}
		if !utf8.ValidString(s) || strings.Contains(s, "\u2581") {
			return
		}
		if back := spm.Decode(ids); back != s {
			t.Fatalf("Decode(Encode(%q)) = %q (ids %v)", s, back, ids)
		}
	})
}

// FuzzBPERoundTrip checks that byte-level BPE loses nothing: for valid UTF-8, the pieces of
// Encode(s) put back together give s (tidied by clean_up_tokenization_spaces where the
// pre-tokenizer has it on), whatever the pre-tokenizer cuts.
func FuzzBPERoundTrip(f *testing.F) {
	for _, s := range []string{"", "the this is", "It's 2024! naïve café 東京", "  \n\n x", "a1234567b", "HELLOworld ÀÉ", "<|endoftext|>", "\u00a0\u3000\u200d"} {
		f.Add(s, uint8(0))
		f.Add(s, uint8(5))
	}
	f.Fuzz(func(t *testing.T, s string, which uint8) {
		_, bpes := fuzzTokenizers(t)
		tok := bpes[int(which)%len(bpes)]
		ids, err := tok.Encode(s, EncodeOptions{ParseSpecial: which&0x80 != 0})
		if err != nil {
			t.Fatal(err)
		}
		if !utf8.ValidString(s) {
			return
		}
		back := tok.Detokenize(ids, DetokenizeOptions{UnparseSpecial: true})
		want := s
		if tok.cleanSpaces {
			want = string(cleanSpaces([]byte(s)))
		}
		if back != want {
			t.Fatalf("pre %s: Detokenize(Encode(%q)) = %q, want %q", tok.Pre(), s, back, want)
		}
	})
}

// FuzzSplitters compares every hand-written splitter with its pattern run on the matcher.
func FuzzSplitters(f *testing.F) {
	for _, s := range []string{"Hello world", "  a\n\n  b", "'s'S'll 123456", "東京\u3000x", "\r\n\t  ", "a\u0301b\u0301 !!\n"} {
		f.Add(s)
	}
	res := map[string]*compiledRegex{}
	for _, p := range []string{patGPT2, patLlama3, patQwen2, patQwen35, patNewlines} {
		re, err := compileRegex(p)
		if err != nil {
			f.Fatal(err)
		}
		res[p] = re
	}
	f.Fuzz(func(t *testing.T, s string) {
		cps := decodeCodepoints(s, nil)
		if len(cps) > 512 {
			return
		}
		collapsed := collapse(cps, nil)
		for p, re := range res {
			want := re.split(&matcher{}, collapsed, []span{{0, len(cps)}}, nil)
			got := customSplitters[p](cps, []span{{0, len(cps)}}, nil)
			if !slices.Equal(got, want) {
				t.Fatalf("pattern %q on %q: splitter %v, regex %v", p, s, got, want)
			}
		}
	})
}

// encodeMeta serializes metadata as a GGUF file, for seeds.
func encodeMeta(f *testing.F, md gguf.Metadata) []byte {
	var buf bytes.Buffer
	w, err := gguf.NewWriter(&buf, md, nil)
	if err != nil {
		f.Fatal(err)
	}
	if err := w.Close(); err != nil {
		f.Fatal(err)
	}
	return buf.Bytes()
}

// FuzzFromGGUF feeds arbitrary GGUF files to FromGGUF: it must return a tokenizer or an error,
// never panic, and a tokenizer it returns must encode and decode anything.
func FuzzFromGGUF(f *testing.F) {
	// Small seeds: the fuzzer minimizes new inputs byte by byte, which is slow on large files.
	strs := func(s ...string) gguf.Array { return gguf.Array{Type: gguf.ValueString, Values: s} }
	f.Add(encodeMeta(f, spmMeta([]piece{{"<unk>", 0, typeUnknown}, {"<s>", 0, typeControl}, {"</s>", 0, typeControl},
		{"<0x41>", 0, typeByte}, {"▁", -2, 0}, {"a", -3, 0}, {"▁a", -1, 0}, {"<|im_end|>", 0, typeControl}})))
	for _, pre := range []string{"gpt-2", "llama-bpe", "deepseek-llm"} {
		f.Add(encodeMeta(f, gguf.Metadata{
			{Key: keyModel, Value: "gpt2"}, {Key: keyPre, Value: pre},
			{Key: keyTokens, Value: strs("a", "b", "ab", "Ġ", "Ġab", "<x>")},
			{Key: keyTokenType, Value: gguf.Array{Type: gguf.ValueInt32, Values: []int32{1, 1, 1, 1, 1, 4}}},
			{Key: keyMerges, Value: strs("a b", "Ġ ab")},
		}))
	}
	f.Add(encodeMeta(f, gguf.Metadata{{Key: keyModel, Value: "gpt2"}, {Key: keyTokens, Value: gguf.Array{Type: gguf.ValueString, Values: []string{"a"}}}}))
	f.Add([]byte("GGUF"))
	f.Fuzz(func(t *testing.T, data []byte) {
		g, err := gguf.Parse(data)
		if err != nil {
			return
		}
		tok, err := FromGGUF(g.Metadata)
		if err != nil {
			return
		}
		exerciseTokenizer(t, tok)
	})
}

// FuzzFromMetadata builds vocabularies from fuzzed strings: tokens and merges separated by
// newlines, any model and pre-tokenizer name, scores and token types of any length.
func FuzzFromMetadata(f *testing.F) {
	f.Add("llama", "", "<unk>\n<s>\n</s>\n▁a\na\n<0x41>", "", uint8(6), uint8(6), "aaa <s>")
	f.Add("gpt2", "gpt-2", "a\nb\nab\nĠ\nĠab", "a b\nĠ ab", uint8(0), uint8(5), " ab ab")
	f.Add("gpt2", "llama-bpe", "a\nb\nab", "a b\nx", uint8(0), uint8(0), "ab")
	f.Add("gemma4", "", "a\n▁\n<0x61>\n\n\n", "a a", uint8(0), uint8(5), "a \n\n a")
	f.Fuzz(func(t *testing.T, model, pre, tokens, merges string, nScores, nTypes uint8, text string) {
		toks := strings.Split(tokens, "\n")
		md := gguf.Metadata{
			{Key: keyModel, Value: model},
			{Key: keyPre, Value: pre},
			{Key: keyTokens, Value: gguf.Array{Type: gguf.ValueString, Values: toks}},
		}
		if merges != "" {
			md.Set(keyMerges, gguf.Array{Type: gguf.ValueString, Values: strings.Split(merges, "\n")})
		}
		if nScores > 0 {
			sc := make([]float32, int(nScores)-1)
			for i := range sc {
				sc[i] = float32(i%7) - 3
			}
			md.Set(keyScores, gguf.Array{Type: gguf.ValueFloat32, Values: sc})
		}
		if nTypes > 0 {
			ty := make([]int32, int(nTypes)-1)
			for i := range ty {
				ty[i] = int32(i % 8)
			}
			md.Set(keyTokenType, gguf.Array{Type: gguf.ValueInt32, Values: ty})
		}
		tok, err := FromGGUF(md)
		if err != nil {
			return
		}
		exerciseTokenizer(t, tok)
		// Errors are fine (a BOS the model asks for but lacks); panics are not.
		_, _ = tok.Encode(text, EncodeOptions{AddSpecial: true, ParseSpecial: true})
	})
}

// exerciseTokenizer runs every public method of tok on a few inputs; any panic fails the fuzz.
func exerciseTokenizer(t *testing.T, tok *Tokenizer) {
	n := tok.VocabSize()
	for id := -1; id <= n && id < 4096; id++ {
		_ = tok.Piece(int32(id))
		_ = tok.Text(int32(id))
		_ = tok.IsEOG(int32(id))
	}
	for _, s := range []string{"", "Hello world!", " \n\t\u00a0x 123 東京 'll", "\xff\xfe", "<s></s><|im_end|>"} {
		for _, opts := range []EncodeOptions{{}, {AddSpecial: true, ParseSpecial: true}} {
			ids, err := tok.Encode(s, opts)
			if err != nil {
				continue
			}
			for _, id := range ids {
				if id < 0 || int(id) >= n {
					t.Fatalf("Encode(%q) gave id %d outside the vocabulary of %d", s, id, n)
				}
			}
			_ = tok.Decode(ids)
			_ = tok.Detokenize(ids, DetokenizeOptions{RemoveSpecial: true, UnparseSpecial: true})
		}
	}
}
