package distill_test

import (
	"context"
	"fmt"
	"log"

	"github.com/mcompress/mcompress/distill"
)

// Distil a teacher GGUF into a student with a quarter of its width and fewer blocks.
func ExampleRun() {
	o := distill.DefaultOptions()
	o.Teacher = "teacher.gguf"
	o.Student.Overrides = distill.ConfigOverrides{Layers: 3, Hidden: 128, Heads: 4, KVHeads: 2, FFN: 384}
	o.Data = distill.DataOptions{Path: "train.txt", Valid: "valid.txt"}
	o.Tokens = 1 << 20
	o.Loss = distill.LossOptions{Alpha: 0.5, Temperature: 2}
	o.Warmup = 50
	o.Output = "run"
	res, err := distill.Run(context.Background(), o)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("perplexity %.2f; model in %s and %s\n", res.Valid.Perplexity, res.HFDir, res.GGUF)
}

// Run the teacher once and distil later students from its stored top-32.
func ExampleBuildCache() {
	info, err := distill.BuildCache(context.Background(), distill.CacheOptions{
		Teacher: "teacher.gguf",
		Data:    distill.DataOptions{Path: "train.txt", Valid: "valid.txt"},
		K:       32,
		Output:  "train.topk",
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%.1f bytes per token\n", info.BytesPerToken())
	o := distill.DefaultOptions()
	o.TeacherCache = "train.topk" // SeqLen 0: the cache's own
	o.Teacher = "teacher.gguf"    // configuration, tokenizer and initialisation only
	o.Student.ConfigFile = "student-config.json"
	o.Loss = distill.LossOptions{Alpha: 0.5, Temperature: 2}
	o.Output = "run"
	_, err = distill.Run(context.Background(), o)
	if err != nil {
		log.Fatal(err)
	}
}

// Load a model and compute its logits for one sequence.
func ExampleLoadModel() {
	m, err := distill.LoadModel("model-hf") // or a .gguf file
	if err != nil {
		log.Fatal(err)
	}
	tp := &distill.Tape{NoGrad: true}
	logits, err := m.Forward(tp, []int32{1, 450, 4996}, 1, 3)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(logits.Shape)
}

func ExampleLRAt() {
	for _, step := range []int{0, 1, 9, 10, 55, 99} {
		fmt.Printf("step %2d: %.6f\n", step, distill.LRAt(distill.Cosine, step, 100, 10, 1e-3, 1e-4))
	}
	// Output:
	// step  0: 0.000100
	// step  1: 0.000200
	// step  9: 0.001000
	// step 10: 0.001000
	// step 55: 0.000542
	// step 99: 0.000100
}
