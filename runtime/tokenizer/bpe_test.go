package tokenizer

import (
	"slices"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// testBPE merges " this" as Ġ+t (rank 0), i+s (3), Ġt+h (7), Ġth+is (8) and "the" as h+e (1)
// only: t+h (5) comes too late, since "he" took the h first.
var testBPE = bpeVocab{
	merges: []string{"Ġ t", "h e", "Ġt he", "i s", "Ġ is", "t h", "th is", "Ġt h", "Ġth is"},
	extra:  []string{"hello"},
	specials: []piece{
		{"<|endoftext|>", 0, typeControl},
		{"<|im_end|>", 0, typeControl},
		{"<tool>", 0, typeUserDefined},
	},
}

func TestBPEEncode(t *testing.T) {
	gpt2 := mustTokenizer(t, testBPE.meta("gpt-2"))
	llama3 := mustTokenizer(t, testBPE.meta("llama-bpe"))
	abc := mustTokenizer(t, bpeVocab{merges: []string{"a b", "b c"}}.meta("gpt-2"))
	bca := mustTokenizer(t, bpeVocab{merges: []string{"b c", "a b"}}.meta("gpt-2"))

	tests := []struct {
		name string
		tok  *Tokenizer
		text string
		opts EncodeOptions
		want []string
	}{
		{"rank order", gpt2, "the this is", EncodeOptions{}, []string{"t", "he", "Ġthis", "Ġis"}},
		{"lower rank first", abc, "abc", EncodeOptions{}, []string{"ab", "c"}},
		{"lower rank first, swapped", bca, "abc", EncodeOptions{}, []string{"a", "bc"}},
		{"bytes", gpt2, "é\n", EncodeOptions{}, []string{"Ã", "©", "Ċ"}},
		{"merges even for a token word", gpt2, "hello", EncodeOptions{}, []string{"he", "l", "l", "o"}},
		{"ignore merges", llama3, "hello", EncodeOptions{}, []string{"hello"}},
		{"llama3 adds BOS only when asked", llama3, "hello", EncodeOptions{}, []string{"hello"}},
		{"control parsed", gpt2, "is<|endoftext|>is", EncodeOptions{ParseSpecial: true}, []string{"is", "<|endoftext|>", "is"}},
		{"user-defined always", gpt2, "is<tool>is", EncodeOptions{}, []string{"is", "<tool>", "is"}},
		{"control as text", gpt2, "<|im_end|>", EncodeOptions{}, []string{"<", "|", "im", "_", "end", "|", ">"}[:0]},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := tc.tok.Encode(tc.text, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			if tc.name == "control as text" {
				if slices.Contains(got, ids(t, tc.tok, "<|im_end|>")[0]) || len(got) == 0 {
					t.Fatalf("control token text became %q", texts(tc.tok, got))
				}
				return
			}
			if want := ids(t, tc.tok, tc.want...); !slices.Equal(got, want) {
				t.Fatalf("Encode(%q) = %q, want %q", tc.text, texts(tc.tok, got), tc.want)
			}
		})
	}
}

// TestBPEFallback checks llama.cpp's treatment of a merge whose result is not a token: the
// symbol's encoded bytes are looked up one by one as one-byte tokens, and the ones that are
// not tokens (here the two bytes of "Ġ") are dropped.
func TestBPEFallback(t *testing.T) {
	md := bpeVocab{}.meta("gpt-2")
	md.Set(keyMerges, gguf.Array{Type: gguf.ValueString, Values: []string{"Ġ x"}})
	tok := mustTokenizer(t, md)
	got, err := tok.Encode(" x", EncodeOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if want := ids(t, tok, "x"); !slices.Equal(got, want) {
		t.Fatalf("got %q, want %q", texts(tok, got), texts(tok, want))
	}
}

func TestBPEAddSpecial(t *testing.T) {
	md := testBPE.meta("llama-bpe", gguf.KV{Key: "tokenizer.ggml.bos_token_id", Value: uint32(0)})
	tok := mustTokenizer(t, md) // llama3 pre-tokenizers default add_bos to true
	got, _ := tok.Encode("hello", EncodeOptions{AddSpecial: true})
	if want := []int32{0, ids(t, tok, "hello")[0]}; !slices.Equal(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	md.Set(keyAddBOS, false)
	tok = mustTokenizer(t, md)
	got, _ = tok.Encode("hello", EncodeOptions{AddSpecial: true})
	if want := ids(t, tok, "hello"); !slices.Equal(got, want) {
		t.Fatalf("add_bos_token=false: got %v, want %v", got, want)
	}
	// gpt2 vocabularies default BOS/EOS to id 11 when the metadata names none.
	tok = mustTokenizer(t, testBPE.meta("gpt-2"))
	if tok.BOS() != 11 || tok.EOS() != 11 || tok.AddBOS() {
		t.Fatalf("defaults: BOS %d EOS %d add_bos %v", tok.BOS(), tok.EOS(), tok.AddBOS())
	}
	// An EOS the model asks for but lacks is an error, not a panic.
	md = testBPE.meta("gpt-2", gguf.KV{Key: keyAddEOS, Value: true})
	tok = mustTokenizer(t, md)
	tok.special.EOS = NoToken
	if _, err := tok.Encode("x", EncodeOptions{AddSpecial: true}); err == nil {
		t.Fatal("missing EOS: no error")
	}
}

func TestBPEDecode(t *testing.T) {
	clean := mustTokenizer(t, testBPE.meta("gpt-2"))
	keep := mustTokenizer(t, testBPE.meta("deepseek-llm"))
	tests := []struct {
		tok  *Tokenizer
		text string
		want string
	}{
		{clean, "the this is", "the this is"},
		{clean, "a . b , c ? d !", "a. b, c? d!"},
		{clean, "it 's we 're I 'm they 've", "it's we're I'm they've"},
		{clean, "don 't I 'd we 'll", "don 't I 'd we 'll"},
		{clean, "a ' b", "a'b"},
		{keep, "a . b 's", "a . b 's"},
		{clean, "é\n🦙", "é\n🦙"},
	}
	for _, tc := range tests {
		got, err := tc.tok.Encode(tc.text, EncodeOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if back := tc.tok.Decode(got); back != tc.want {
			t.Errorf("%s: Decode(Encode(%q)) = %q, want %q", tc.tok.Pre(), tc.text, back, tc.want)
		}
	}
	imEnd := ids(t, clean, "<|im_end|>")[0]
	is := ids(t, clean, "is")[0]
	if got := clean.Decode([]int32{is, imEnd, is}); got != "isis" {
		t.Errorf("control token rendered: %q", got)
	}
	if got := clean.Detokenize([]int32{is, imEnd, is}, DetokenizeOptions{UnparseSpecial: true}); got != "is<|im_end|>is" {
		t.Errorf("UnparseSpecial: %q", got)
	}
	if !clean.IsEOG(imEnd) || clean.EOT() != ids(t, clean, "<|endoftext|>")[0] {
		t.Errorf("EOG/EOT detection: IsEOG(im_end)=%v EOT=%d", clean.IsEOG(imEnd), clean.EOT())
	}
	if p := clean.Piece(ids(t, clean, "Ġthis")[0]); p != " this" {
		t.Errorf("Piece(Ġthis) = %q", p)
	}
}

// TestBPEPreTokenizers builds a tokenizer for every known tokenizer.ggml.pre value and checks
// that it round-trips text (bytes are all tokens, so nothing is lost) and leaves the merges
// alone where the pre-tokenizer cuts.
func TestBPEPreTokenizers(t *testing.T) {
	text := "Hello World! It's 2024: naïve café, 東京 123456789 x=1+2; \t\n\n  end  \u00a0x ́ 😀"
	for _, pre := range PreTokenizers() {
		t.Run(pre, func(t *testing.T) {
			tok := mustTokenizer(t, bpeVocab{merges: []string{"H e", "He llo"}}.meta(pre))
			got, err := tok.Encode(text, EncodeOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := text
			if !tok.byteEncode {
				// BPE on raw UTF-8 with <0xNN> fallback: this byte-level vocabulary has no such
				// tokens, so text is lost. Just check that nothing panics.
				return
			}
			back := tok.Detokenize(got, DetokenizeOptions{})
			if tok.cleanSpaces {
				want = string(cleanSpaces([]byte(want)))
			}
			if back != want {
				t.Fatalf("round trip:\n got  %q\n want %q", back, want)
			}
		})
	}
}
