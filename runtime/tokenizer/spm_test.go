package tokenizer

import (
	"slices"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// testSPMPieces is a small vocabulary whose scores make the merge order matter: "▁hello"
// splits as "▁he" + "llo" because "ll" (-1), "llo" (-1.5), "he" (-2) and then "▁he" (-3) win
// over "hello" (-4), and "▁hello" is not a token.
func testSPMPieces(extra ...piece) []piece {
	return spmPieces(append([]piece{
		{"▁", -10, 0}, {"h", -20, 0}, {"e", -20, 0}, {"l", -20, 0}, {"o", -20, 0},
		{"w", -20, 0}, {"r", -20, 0}, {"d", -20, 0}, {"a", -20, 0},
		{"ll", -1, 0}, {"llo", -1.5, 0}, {"he", -2, 0}, {"▁h", -2.5, 0}, {"▁he", -3, 0}, {"hello", -4, 0},
		{"▁w", -5, 0}, {"or", -6, 0}, {"▁wor", -7, 0}, {"ld", -8, 0}, {"▁world", -9, 0},
		{"aa", -1, 0},
	}, extra...)...)
}

func TestSPMEncode(t *testing.T) {
	tok := mustTokenizer(t, spmMeta(testSPMPieces(
		piece{"<sep>", 0, typeUserDefined},
		piece{"<|im_end|>", 0, typeControl},
	)))
	noPrefix := mustTokenizer(t, spmMeta(testSPMPieces(), gguf.KV{Key: keyAddPrefix, Value: false}))
	withEOS := mustTokenizer(t, spmMeta(testSPMPieces(), gguf.KV{Key: keyAddEOS, Value: true}))
	phi3 := mustTokenizer(t, spmMeta(testSPMPieces(piece{"<|user|>", 0, typeControl}), gguf.KV{Key: keyGeneralName, Value: "Phi3"}))
	plain := mustTokenizer(t, spmMeta(testSPMPieces(piece{"<|user|>", 0, typeControl})))

	tests := []struct {
		name string
		tok  *Tokenizer
		text string
		opts EncodeOptions
		want []string
	}{
		{"score order", tok, "hello world", EncodeOptions{}, []string{"▁he", "llo", "▁world"}},
		{"no space prefix", noPrefix, "hello", EncodeOptions{}, []string{"hello"}},
		{"leftmost on ties", tok, "aaa", EncodeOptions{}, []string{"▁", "aa", "a"}},
		{"byte fallback", tok, "hé", EncodeOptions{}, []string{"▁h", "<0xC3>", "<0xA9>"}},
		{"newline and unknown letter", tok, "a\nb", EncodeOptions{}, []string{"▁", "a", "<0x0A>", "<0x62>"}},
		{"empty", tok, "", EncodeOptions{}, nil},
		{"empty with BOS", tok, "", EncodeOptions{AddSpecial: true}, []string{"<s>"}},
		{"BOS", tok, "hello", EncodeOptions{AddSpecial: true}, []string{"<s>", "▁he", "llo"}},
		{"BOS and EOS", withEOS, "hello", EncodeOptions{AddSpecial: true}, []string{"<s>", "▁he", "llo", "</s>"}},
		{"user-defined always", tok, "a<sep>hello", EncodeOptions{}, []string{"▁", "a", "<sep>", "▁he", "llo"}},
		{"control parsed", tok, "<s>hello", EncodeOptions{ParseSpecial: true}, []string{"<s>", "▁he", "llo"}},
		{"control as text", tok, "<s>hello", EncodeOptions{}, []string{"▁", "<0x3C>", "<0x73>", "<0x3E>", "hello"}},
		{"control inside", tok, "hello<|im_end|>", EncodeOptions{ParseSpecial: true}, []string{"▁he", "llo", "<|im_end|>"}},
		{"no rstrip", plain, "<|user|>\nhello", EncodeOptions{ParseSpecial: true}, []string{"<|user|>", "▁", "<0x0A>", "hello"}},
		{"phi3 rstrip", phi3, "<|user|>\nhello", EncodeOptions{ParseSpecial: true}, []string{"<|user|>", "▁he", "llo"}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.tok.Encode(tc.text, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if want := ids(t, tc.tok, tc.want...); !slices.Equal(got, want) {
				t.Fatalf("Encode(%q) = %q, want %q", tc.text, texts(tc.tok, got), tc.want)
			}
		})
	}
}

func TestSPMDecode(t *testing.T) {
	tok := mustTokenizer(t, spmMeta(testSPMPieces(piece{"<|im_end|>", 0, typeControl})))
	tests := []struct {
		name string
		ids  []string
		opts *DetokenizeOptions // nil: Decode
		want string
	}{
		{"decode", []string{"▁he", "llo", "▁world"}, nil, "hello world"},
		{"decode skips BOS and its space", []string{"<s>", "▁he", "llo"}, nil, "hello"},
		{"decode bytes", []string{"▁h", "<0xC3>", "<0xA9>", "<0x0A>"}, nil, "hé\n"},
		{"decode hides control", []string{"▁he", "llo", "<|im_end|>", "</s>"}, nil, "hello"},
		{"detokenize", []string{"▁he", "llo"}, &DetokenizeOptions{}, "hello"},
		{"detokenize keeps space after BOS", []string{"<s>", "▁he", "llo"}, &DetokenizeOptions{}, " hello"},
		{"detokenize remove special", []string{"<s>", "▁he", "llo"}, &DetokenizeOptions{RemoveSpecial: true}, " hello"},
		{"detokenize unparse", []string{"<s>", "▁he", "llo", "<|im_end|>"}, &DetokenizeOptions{UnparseSpecial: true}, "<s> hello<|im_end|>"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			in := ids(t, tok, tc.ids...)
			var got string
			if tc.opts == nil {
				got = tok.Decode(in)
			} else {
				got = tok.Detokenize(in, *tc.opts)
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	if p := tok.Piece(ids(t, tok, "▁world")[0]); p != " world" {
		t.Errorf("Piece(▁world) = %q", p)
	}
	if p := tok.Piece(ids(t, tok, "<0x41>")[0]); p != "A" {
		t.Errorf("Piece(<0x41>) = %q", p)
	}
	if p := tok.Piece(tok.BOS()); p != "<s>" {
		t.Errorf("Piece(BOS) = %q", p)
	}
	if tok.Piece(-1) != "" || tok.Piece(int32(tok.VocabSize())) != "" {
		t.Error("Piece out of range is not empty")
	}
	if got := tok.Decode([]int32{-5, 1 << 30}); got != "" {
		t.Errorf("Decode of bad ids = %q", got)
	}
}

// TestSPMRoundTrip checks Decode(Encode(s)) == s. It holds for any valid UTF-8 and for invalid
// bytes that do not swallow the first bytes of an escaped space (a lead byte announcing a longer
// sequence than follows), which llama.cpp cannot round-trip either.
func TestSPMRoundTrip(t *testing.T) {
	tok := mustTokenizer(t, spmMeta(testSPMPieces()))
	for _, s := range []string{"hello world", " leading", "trailing  ", "a\n\nb\tc", "héllo wörld ✓ 🦙", "\xff\xfexyz broken \xc3", "  "} {
		got, err := tok.Encode(s, EncodeOptions{AddSpecial: true})
		if err != nil {
			t.Fatal(err)
		}
		if back := tok.Decode(got); back != s {
			t.Errorf("Decode(Encode(%q)) = %q", s, back)
		}
	}
}

func TestSPMSpecialTokens(t *testing.T) {
	tok := mustTokenizer(t, spmMeta(testSPMPieces(piece{"<|im_end|>", 0, typeControl}, piece{"<unused1>", 0, typeControl})))
	sp := tok.Special()
	if tok.BOS() != 1 || tok.EOS() != 2 || tok.UNK() != 0 {
		t.Fatalf("BOS/EOS/UNK = %d/%d/%d", tok.BOS(), tok.EOS(), tok.UNK())
	}
	imEnd := ids(t, tok, "<|im_end|>")[0]
	if tok.EOT() != imEnd {
		t.Errorf("EOT = %d, want <|im_end|> %d", tok.EOT(), imEnd)
	}
	for _, tc := range []struct {
		id   int32
		want bool
	}{{2, true}, {imEnd, true}, {1, false}, {0, false}, {-1, false}, {1 << 20, false}} {
		if got := tok.IsEOG(tc.id); got != tc.want {
			t.Errorf("IsEOG(%d) = %v", tc.id, got)
		}
	}
	if !slices.Equal(tok.EOG(), []int32{2, imEnd}) {
		t.Errorf("EOG() = %v", tok.EOG())
	}
	if sp.Newline != ids(t, tok, "<0x0A>")[0] {
		t.Errorf("Newline = %d", sp.Newline)
	}
	if a := tok.Attr(ids(t, tok, "<unused1>")[0]); a&AttrUnused == 0 {
		t.Errorf("<unused1> attr %b, want unused", a)
	}
	if !tok.AddBOS() || tok.AddEOS() || !tok.AddSpacePrefix() || tok.Kind() != KindSPM {
		t.Error("SentencePiece defaults wrong")
	}
}
