package gguf_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"

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

// ExampleWriteFileAt writes the halves of a tensor from two goroutines, in either order.
func ExampleWriteFileAt() {
	dir, _ := os.MkdirTemp("", "gguf-example")
	defer os.RemoveAll(dir)
	path := filepath.Join(dir, "model.gguf")
	tensors := []gguf.TensorInfo{{Name: "token_embd.weight", Type: gguf.TypeF32, Dims: []uint64{4, 2}}}
	err := gguf.WriteFileAt(path, gguf.Metadata{{Key: "general.architecture", Value: "llama"}}, tensors, func(w *gguf.TensorWriterAt) error {
		var wg sync.WaitGroup
		errs := make([]error, 2)
		for half := range 2 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				row := make([]byte, 16)
				for i := range 4 {
					binary.LittleEndian.PutUint32(row[4*i:], math.Float32bits(float32(4*half+i)))
				}
				errs[half] = w.WriteAt(0, uint64(16*half), row)
			}()
		}
		wg.Wait()
		return errors.Join(errs...)
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	f, err := gguf.Open(path)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	data := f.TensorData(0)
	fmt.Println(math.Float32frombits(binary.LittleEndian.Uint32(data[4*5:])))
	// Output: 5
}
