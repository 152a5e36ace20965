package tokenizer

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

func TestFromGGUFErrors(t *testing.T) {
	strs := func(s ...string) gguf.Array { return gguf.Array{Type: gguf.ValueString, Values: s} }
	f32s := func(f ...float32) gguf.Array { return gguf.Array{Type: gguf.ValueFloat32, Values: f} }
	i32s := func(v ...int32) gguf.Array { return gguf.Array{Type: gguf.ValueInt32, Values: v} }
	spm := func(kv ...gguf.KV) gguf.Metadata {
		md := gguf.Metadata{{Key: keyModel, Value: "llama"}, {Key: keyTokens, Value: strs("<unk>", "<s>", "</s>", "a")}}
		for _, x := range kv {
			md.Set(x.Key, x.Value)
		}
		return md
	}
	bpe := func(kv ...gguf.KV) gguf.Metadata {
		md := gguf.Metadata{{Key: keyModel, Value: "gpt2"}, {Key: keyTokens, Value: strs("a", "b", "ab")}, {Key: keyMerges, Value: strs("a b")}}
		for _, x := range kv {
			md.Set(x.Key, x.Value)
		}
		return md
	}
	del := func(md gguf.Metadata, key string) gguf.Metadata { md.Delete(key); return md }
	tests := []struct {
		name string
		md   gguf.Metadata
		want string // a substring of the error
	}{
		{"no metadata", nil, "missing tokenizer.ggml.model"},
		{"model not a string", spm(gguf.KV{Key: keyModel, Value: uint32(1)}), "tokenizer.ggml.model has type uint32"},
		{"empty model", spm(gguf.KV{Key: keyModel, Value: ""}), "is empty"},
		{"unknown model", spm(gguf.KV{Key: keyModel, Value: "wordpiece9"}), `unknown tokenizer.ggml.model = "wordpiece9"`},
		{"unsupported model", spm(gguf.KV{Key: keyModel, Value: "bert"}), "not supported"},
		{"no vocab", spm(gguf.KV{Key: keyModel, Value: "no_vocab"}), "no vocabulary"},
		{"missing tokens", del(spm(), keyTokens), "missing tokenizer.ggml.tokens"},
		{"tokens not strings", spm(gguf.KV{Key: keyTokens, Value: i32s(1, 2)}), "want an array of strings"},
		{"tokens not an array", spm(gguf.KV{Key: keyTokens, Value: "a"}), "want an array of strings"},
		{"empty tokens", spm(gguf.KV{Key: keyTokens, Value: strs()}), "tokenizer.ggml.tokens is empty"},
		{"duplicate tokens", spm(gguf.KV{Key: keyTokens, Value: strs("a", "b", "a")}), `tokens 0 and 2 are both "a"`},
		{"short scores", spm(gguf.KV{Key: keyScores, Value: f32s(0, 0)}), "has 2 scores for 4 tokens"},
		{"scores of strings", spm(gguf.KV{Key: keyScores, Value: strs("x")}), "want an array of float32 or int32"},
		{"short token types", spm(gguf.KV{Key: keyTokenType, Value: i32s(1)}), "has 1 entries for 4 tokens"},
		{"token types of floats", spm(gguf.KV{Key: keyTokenType, Value: f32s(1, 1, 1, 1)}), "want an array of int32"},
		{"add_bos not bool", spm(gguf.KV{Key: keyAddBOS, Value: uint8(1)}), "add_bos_token has type uint8, want bool"},
		{"bos id not integer", spm(gguf.KV{Key: "tokenizer.ggml.bos_token_id", Value: "1"}), "bos_token_id has type string"},
		{"missing merges", del(bpe(), keyMerges), "missing tokenizer.ggml.merges"},
		{"merges not strings", bpe(gguf.KV{Key: keyMerges, Value: i32s(1)}), "want an array of strings"},
		{"merge without space", bpe(gguf.KV{Key: keyMerges, Value: strs("a b", "ab")}), `merges[1] = "ab" is not two pieces`},
		{"empty merge", bpe(gguf.KV{Key: keyMerges, Value: strs("")}), `merges[0] = ""`},
		{"lone space merge", bpe(gguf.KV{Key: keyMerges, Value: strs(" ")}), `merges[0] = " "`},
		{"unknown pre", bpe(gguf.KV{Key: keyPre, Value: "gpt-17"}), `unknown pre-tokenizer tokenizer.ggml.pre = "gpt-17"`},
		{"pre not a string", bpe(gguf.KV{Key: keyPre, Value: true}), "tokenizer.ggml.pre has type bool"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			tok, err := FromGGUF(tc.md)
			if err == nil {
				t.Fatalf("no error; tokenizer %v", tok.Model())
			}
			if !errors.Is(err, ErrMetadata) {
				t.Errorf("error %v does not wrap ErrMetadata", err)
			}
			if !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "tokenizer: ") {
				t.Errorf("error %q, want it to contain %q", err, tc.want)
			}
		})
	}
}

// TestFromGGUFLenient covers metadata llama.cpp accepts: more scores than tokens, integer
// scores, out-of-range special ids (the default stays), empty token texts, kimi-k2 without merges.
func TestFromGGUFLenient(t *testing.T) {
	md := spmMeta(testSPMPieces())
	n := len(testSPMPieces())
	md.Set(keyScores, gguf.Array{Type: gguf.ValueInt32, Values: make([]int32, n+5)})
	md.Set("tokenizer.ggml.eos_token_id", uint32(1<<30))
	md.Set("tokenizer.ggml.padding_token_id", int32(-1))
	tok := mustTokenizer(t, md)
	if tok.EOS() != 2 || tok.Special().PAD != NoToken {
		t.Errorf("EOS %d PAD %d", tok.EOS(), tok.Special().PAD)
	}
	md = bpeVocab{}.meta("kimi-k2")
	md.Delete(keyMerges)
	mustTokenizer(t, md)
	md = bpeVocab{extra: []string{""}}.meta("gpt-2")
	tok = mustTokenizer(t, md)
	if _, ok := tok.TokenID("[EMPTY_256]"); !ok {
		t.Error("empty token not renamed [EMPTY_256]")
	}
}

func TestOpenErrors(t *testing.T) {
	dir := t.TempDir()
	if _, err := Open(filepath.Join(dir, "missing.gguf")); err == nil {
		t.Fatal("missing file: no error")
	}
	path := filepath.Join(dir, "novocab.gguf")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := gguf.NewWriter(f, gguf.Metadata{{Key: "general.architecture", Value: "llama"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f.Close()
	_, err = Open(path)
	if err == nil || !errors.Is(err, ErrMetadata) || !strings.Contains(err.Error(), path) {
		t.Fatalf("error %v: want ErrMetadata naming %s", err, path)
	}
}
