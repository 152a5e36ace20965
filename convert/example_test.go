package convert_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
)

// Convert writes the GGUF file llama.cpp would write for a Hugging Face folder; errors caused by
// the input wrap ErrBadInput and name the file and the problem.
func ExampleConvert() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	os.WriteFile(filepath.Join(dir, "config.json"), []byte(`{"architectures": ["GPT2LMHeadModel"]}`), 0o644)
	_, err := convert.Convert(context.Background(), dir, filepath.Join(dir, "out.gguf"), convert.Options{OutType: convert.OutF16})
	fmt.Println(errors.Is(err, convert.ErrBadInput))
	fmt.Println(convert.SupportedArchitectures())
	// Output:
	// true
	// [Gemma2ForCausalLM Gemma3ForCausalLM Gemma3ForConditionalGeneration LLaMAForCausalLM LlamaForCausalLM MistralForCausalLM Phi3ForCausalLM Qwen2ForCausalLM Qwen3ForCausalLM]
}

// ToHF turns an unquantized GGUF file back into a Hugging Face folder; the result names the
// --outtype that converts the folder back to the same file.
func ExampleToHF() {
	res, err := convert.ToHF(context.Background(), "model-f16.gguf", "model-hf", convert.HFOptions{})
	if err != nil {
		fmt.Println("error:", errors.Is(err, convert.ErrBadInput))
		return
	}
	fmt.Println(res.Arch, res.TorchDType, res.OutType, res.Files)
	// Output: error: true
}

// Inspect describes a GGUF file, a safetensors file or a Hugging Face folder.
func ExampleInspect() {
	dir, _ := os.MkdirTemp("", "example")
	defer os.RemoveAll(dir)
	p := filepath.Join(dir, "tiny.gguf")
	md := gguf.Metadata{{Key: "general.architecture", Value: "llama"}}
	tensors := []gguf.TensorInfo{{Name: "output_norm.weight", Type: gguf.TypeF32, Dims: []uint64{4}}}
	gguf.WriteFile(p, md, tensors, func(w *gguf.Writer) error { return w.WriteTensor("output_norm.weight", make([]byte, 16)) })
	r, err := convert.Inspect(p)
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(r.Format, r.Metadata[0].Key, r.Metadata[0].Value, r.Tensors[0].Name, r.Tensors[0].Type, r.Tensors[0].Shape, r.Tensors[0].Bytes)
	// Output: gguf general.architecture llama output_norm.weight F32 [4] 16
}
