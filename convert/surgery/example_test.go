package surgery_test

import (
	"fmt"
	"log"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/surgery"
)

// Prune one block's attention from 4 query heads sharing 2 KV heads down to 2 heads sharing 1,
// slicing the projections by whole heads and writing the smaller configuration.
func Example() {
	// Heads of width 2: attn_q is 8 × 4, attn_k and attn_v are 4 × 4.
	c := convert.Config{Arch: "llama", VocabSize: 8, Hidden: 4, Layers: 4, Heads: 4, KVHeads: 2, HeadDim: 2,
		FFN: 8, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 2}
	keepQ := []int{2, 3} // both query heads of the second group
	keepKV, err := surgery.KeepHeads(c.Heads, c.KVHeads, keepQ)
	if err != nil {
		log.Fatal(err)
	}
	q := surgery.Tensor{Shape: []int{8, 4}, Data: make([]float32, 32)}
	for i := range q.Data {
		q.Data[i] = float32(i / 4) // each row holds its index
	}
	q2, err := surgery.SliceRows(q, surgery.HeadRows(keepQ, c.HeadDim))
	if err != nil {
		log.Fatal(err)
	}
	lmap, err := surgery.KeepLayers(c.Layers, []int{1, 2})
	if err != nil {
		log.Fatal(err)
	}
	small, err := surgery.Overrides{Layers: len(lmap), Heads: len(keepQ), KVHeads: len(keepKV), HeadDim: c.HeadDim}.ApplyValid(c)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("KV heads kept:", keepKV)
	fmt.Println("q rows kept:", q2.Shape, q2.Data[0], q2.Data[4], q2.Data[8], q2.Data[12])
	fmt.Println("blocks kept:", lmap, "block 1 reads", surgery.SourceName("blk.1.attn_q.weight", lmap))
	fmt.Printf("new model: %d layers, %d heads, %d KV heads of %d\n", small.Layers, small.Heads, small.KVHeads, small.HeadDim)
	// Output:
	// KV heads kept: [1]
	// q rows kept: [4 4] 4 5 6 7
	// blocks kept: [0 3] block 1 reads blk.3.attn_q.weight
	// new model: 2 layers, 2 heads, 1 KV heads of 2
}

// A student of half the blocks starts from every other block of its teacher.
func ExampleEvenLayers() {
	fmt.Println(surgery.EvenLayers(2, 4), surgery.EvenLayers(3, 12), surgery.EvenLayers(4, 4))
	// Output: [0 2] [0 4 8] [0 1 2 3]
}
