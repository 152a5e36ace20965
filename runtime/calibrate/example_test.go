package calibrate_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/calibrate"
)

// Collect block 1's statistics only, as a stage that works one block at a time does: XᵀX
// per matrix input (for SparseGPT or GPTQ), the squared column norms (for Wanda) and the
// block's angular distance (for layer dropping).
func Example() {
	dir, _ := os.MkdirTemp("", "calibrate")
	defer os.RemoveAll(dir)
	cfg, _ := runtime.RandomConfig("tiny")
	cfg.Layers = 2
	path := filepath.Join(dir, "tiny.gguf")
	if err := runtime.WriteRandomModel(path, runtime.RandomModelOptions{Config: cfg, Type: gguf.TypeF16, Seed: 1}); err != nil {
		fmt.Println(err)
		return
	}
	gram, cols, blocks := &calibrate.Gram{}, &calibrate.ColumnSquares{}, &calibrate.BlockDistance{}
	c := calibrate.New(gram, cols, blocks)
	c.Layers = []int{1}
	m, err := runtime.Load(path, runtime.Options{ActivationObserver: c.Observe})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer m.Close()
	seqs := [][]int32{{1, 300, 301, 302, 303, 304, 305, 306}, {1, 400, 401, 402, 403, 404, 405, 406}}
	if err := calibrate.Run(context.Background(), m, seqs, calibrate.RunOptions{}); err != nil {
		fmt.Println(err)
		return
	}
	for _, g := range gram.Grams() {
		fmt.Printf("%d×%d over %d tokens: %v\n", g.N, g.N, g.Count, g.Weights)
	}
	fmt.Println(len(cols.Names()), "weights;", blocks.Stats()[1].Count, "tokens through block 1")
	// Output:
	// 256×256 over 16 tokens: [blk.1.attn_q.weight blk.1.attn_k.weight blk.1.attn_v.weight]
	// 256×256 over 16 tokens: [blk.1.attn_output.weight]
	// 256×256 over 16 tokens: [blk.1.ffn_gate.weight blk.1.ffn_up.weight]
	// 768×768 over 16 tokens: [blk.1.ffn_down.weight]
	// 7 weights; 16 tokens through block 1
}
