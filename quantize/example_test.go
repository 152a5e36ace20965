package quantize_test

import (
	"context"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize"
)

// Quantize a row of 32 weights to one Q8_0 block (34 bytes) and decode it again.
func ExampleQuantize() {
	x := make([]float32, 32)
	for i := range x {
		x[i] = float32(i-16) / 16
	}
	block := make([]byte, 34)
	if err := quantize.Quantize(gguf.TypeQ8_0, block, x, 32, nil); err != nil {
		fmt.Println(err)
		return
	}
	y := make([]float32, 32)
	if err := quantize.Dequantize(gguf.TypeQ8_0, y, block); err != nil {
		fmt.Println(err)
		return
	}
	fmt.Printf("%.4f %.4f %.4f\n", y[0], y[16], y[31])
	// Output: -0.9999 0.0000 0.9370
}

// Codecs describe their block geometry; the runtime uses DequantizeRow on whole blocks.
func ExampleLookup() {
	for _, t := range []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeIQ4_XS} {
		c, _ := quantize.Lookup(t)
		fmt.Printf("%s: %d weights in %d bytes (%.2f bits per weight)\n", t, c.BlockSize(), c.TypeSize(), float64(8*c.TypeSize())/float64(c.BlockSize()))
	}
	// Output:
	// Q4_0: 32 weights in 18 bytes (4.50 bits per weight)
	// Q4_K: 256 weights in 144 bytes (4.50 bits per weight)
	// IQ4_XS: 256 weights in 136 bytes (4.25 bits per weight)
}

func ExampleParseMix() {
	m, err := quantize.ParseMix("q4_k") // llama-quantize's alias for Q4_K_M
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(m.Name, m.FileType, m.Default)
	b, _ := quantize.MixForBits(3)
	fmt.Println(b.Name)
	// Output:
	// Q4_K_M 15 Q4_K
	// Q3_K_M
}

// Quantize a (tiny) GGUF model file to Q4_K_M.
func ExampleQuantizeFile() {
	dir, _ := os.MkdirTemp("", "quantize-example")
	defer os.RemoveAll(dir)
	in, out := filepath.Join(dir, "model-f32.gguf"), filepath.Join(dir, "model-q4_k_m.gguf")

	// A one-layer llama with a 256x256 attention projection and a norm.
	md := gguf.Metadata{
		{Key: "general.architecture", Value: "llama"},
		{Key: "llama.block_count", Value: uint32(1)},
		{Key: "llama.attention.head_count", Value: uint32(4)},
	}
	tensors := []gguf.TensorInfo{
		{Name: "blk.0.attn_q.weight", Type: gguf.TypeF32, Dims: []uint64{256, 256}},
		{Name: "blk.0.attn_norm.weight", Type: gguf.TypeF32, Dims: []uint64{256}},
	}
	err := gguf.WriteFile(in, md, tensors, func(w *gguf.Writer) error {
		for _, t := range tensors {
			b := make([]byte, t.Size())
			for i := 0; i < len(b); i += 4 {
				binary.LittleEndian.PutUint32(b[i:], math.Float32bits(float32(math.Sin(float64(i)))/50))
			}
			if err := w.WriteTensor(t.Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	mix, _ := quantize.ParseMix("Q4_K_M")
	sum, err := quantize.QuantizeFile(context.Background(), in, out, quantize.Options{Mix: mix})
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range sum.Tensors {
		fmt.Println(t.Name, t.From, "->", t.Type, t.Bytes)
	}
	// Output:
	// blk.0.attn_norm.weight F32 -> F32 1024
	// blk.0.attn_q.weight F32 -> Q4_K 36864
}
