package convert_test

import (
	"fmt"
	"log"

	"github.com/mcompress/mcompress/convert"
)

// A student's config.json need only give what it changes; the rest comes from the teacher.
func ExampleParseHFConfig() {
	teacher := convert.Config{Arch: "llama", HFModelType: "llama", VocabSize: 32000, Hidden: 2048, Layers: 22, Heads: 32,
		KVHeads: 4, HeadDim: 64, FFN: 5632, ContextLength: 2048, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 64}
	c, err := convert.ParseHFConfig([]byte(`{"hidden_size": 1024, "num_hidden_layers": 8, "num_attention_heads": 16, "num_key_value_heads": 4, "intermediate_size": 2816}`), "student.json", teacher)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%d layers, hidden %d, %d heads of %d, %d KV heads, FFN %d, vocabulary %d\n", c.Layers, c.Hidden, c.Heads, c.HeadDim, c.KVHeads, c.FFN, c.VocabSize)
	// Output: 8 layers, hidden 1024, 16 heads of 64, 4 KV heads, FFN 2816, vocabulary 32000
}
