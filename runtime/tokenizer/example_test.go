package tokenizer_test

import (
	"fmt"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// A tiny byte-level BPE vocabulary as a GGUF file would carry it: the 256 byte characters
// would normally come first; here only the ones the example needs.
func exampleMetadata() gguf.Metadata {
	strs := func(s ...string) gguf.Array { return gguf.Array{Type: gguf.ValueString, Values: s} }
	return gguf.Metadata{
		{Key: "tokenizer.ggml.model", Value: "gpt2"},
		{Key: "tokenizer.ggml.pre", Value: "gpt-2"},
		{Key: "tokenizer.ggml.tokens", Value: strs("h", "i", "Ġ", "t", "e", "r", "hi", "Ġt", "he", "Ġthe", "re", "Ġthere", "<|endoftext|>")},
		{Key: "tokenizer.ggml.token_type", Value: gguf.Array{Type: gguf.ValueInt32, Values: []int32{1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 3}}},
		{Key: "tokenizer.ggml.merges", Value: strs("h i", "Ġ t", "h e", "Ġt he", "r e", "Ġthe re")},
		{Key: "tokenizer.ggml.eos_token_id", Value: uint32(12)},
	}
}

func Example() {
	tok, err := tokenizer.FromGGUF(exampleMetadata())
	if err != nil {
		fmt.Println(err)
		return
	}
	ids, err := tok.Encode("hi there<|endoftext|>", tokenizer.EncodeOptions{ParseSpecial: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, id := range ids {
		fmt.Printf("%d %q\n", id, tok.Piece(id))
	}
	fmt.Printf("%q EOG=%v\n", tok.Decode(ids), tok.IsEOG(ids[len(ids)-1]))
	// Output:
	// 6 "hi"
	// 11 " there"
	// 12 "<|endoftext|>"
	// "hi there" EOG=true
}

func ExampleTokenizer_Detokenize() {
	tok, _ := tokenizer.FromGGUF(exampleMetadata())
	ids := []int32{6, 11, 12}
	fmt.Printf("%q\n", tok.Detokenize(ids, tokenizer.DetokenizeOptions{}))
	fmt.Printf("%q\n", tok.Detokenize(ids, tokenizer.DetokenizeOptions{UnparseSpecial: true}))
	// Output:
	// "hi there"
	// "hi there<|endoftext|>"
}

func ExampleOpen() {
	tok, err := tokenizer.Open("model.gguf")
	if err != nil {
		fmt.Println("no model here")
		return
	}
	ids, _ := tok.Encode("Hello", tokenizer.EncodeOptions{AddSpecial: true})
	fmt.Println(ids)
	// Output: no model here
}
