package safetensors_test

import (
	"bytes"
	"fmt"

	"github.com/mcompress/mcompress/convert/safetensors"
)

func Example() {
	tensors := []safetensors.TensorInfo{
		{Name: "model.norm.weight", DType: safetensors.F32, Shape: []int64{2}},
		{Name: "lm_head.weight", DType: safetensors.BF16, Shape: []int64{2, 2}},
	}
	var buf bytes.Buffer
	w, _ := safetensors.NewWriter(&buf, map[string]string{"format": "pt"}, tensors)
	_ = w.WriteTensor("model.norm.weight", []byte{0, 0, 0x80, 0x3f, 0, 0, 0, 0x40})
	_ = w.WriteTensor("lm_head.weight", make([]byte, 8))
	_ = w.Close()

	f, err := safetensors.Parse(buf.Bytes())
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, t := range f.Tensors {
		fmt.Println(t.Name, t.DType, t.Shape, t.Size())
	}
	fmt.Println(f.Metadata["format"], f.Names())
	// Output:
	// model.norm.weight F32 [2] 8
	// lm_head.weight BF16 [2 2] 8
	// pt [lm_head.weight model.norm.weight]
}

func ExampleOpenCheckpoint() {
	// A Hugging Face folder, a model.safetensors.index.json or a single file.
	c, err := safetensors.OpenCheckpoint("path/to/model")
	if err != nil {
		fmt.Println("error:", err != nil)
		return
	}
	defer c.Close()
	for _, e := range c.Entries() {
		fmt.Println(e.Name, e.DType, e.Shape, len(c.Data(e)))
	}
	// Output: error: true
}
