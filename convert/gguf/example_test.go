package gguf_test

import (
	"bytes"
	"fmt"

	"github.com/mcompress/mcompress/convert/gguf"
)

func Example() {
	md := gguf.Metadata{
		{Key: "general.architecture", Value: "llama"},
		{Key: "llama.block_count", Value: uint32(2)},
	}
	tensors := []gguf.TensorInfo{{Name: "output_norm.weight", Type: gguf.TypeF32, Dims: []uint64{4}}}
	var buf bytes.Buffer
	w, _ := gguf.NewWriter(&buf, md, tensors)
	_ = w.WriteTensor("output_norm.weight", make([]byte, 16))
	_ = w.Close()

	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	n, _ := f.Metadata.Uint("llama.block_count")
	fmt.Println(f.Architecture(), n, f.Tensors[0].Name, f.Tensors[0].Type, f.Tensors[0].Dims)
	// Output: llama 2 output_norm.weight F32 [4]
}
