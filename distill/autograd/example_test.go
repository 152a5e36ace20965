package autograd_test

import (
	"fmt"
	"log"

	"github.com/mcompress/mcompress/distill/autograd"
)

// A softmax classifier trained by plain gradient descent: the pattern of every training step
// (Reset, ZeroGrad, forward, loss, Backward, update).
func Example() {
	w, _ := autograd.NewParam("w", []float32{0.1, -0.2, 0.0, 0.3, -0.1, 0.2}, 3, 2) // [classes, features]
	var params autograd.Params[float32]
	if err := params.Add(w); err != nil {
		log.Fatal(err)
	}
	x, _ := autograd.NewTensor([]float32{1, 0, 0, 1, -1, -1, 0.5, 0.5}, 4, 2)
	targets := []int32{0, 1, 2, 1}
	tp := &autograd.Tape[float32]{}
	for step := 0; step < 3; step++ {
		tp.Reset()
		params.ZeroGrad()
		logits := autograd.MatMul(tp, x, w, false, true) // x·wᵀ: [4, 3]
		loss := autograd.CrossEntropy(tp, logits, targets, -100)
		if err := tp.Backward(loss); err != nil {
			log.Fatal(err)
		}
		fmt.Printf("step %d: loss %.4f, |grad| %.4f\n", step, loss.Item(), params.GradNorm())
		for _, p := range params.List() {
			for i, g := range p.Grad {
				p.Data[i] -= 0.5 * g
			}
		}
	}
	// Output:
	// step 0: loss 1.0092, |grad| 0.5582
	// step 1: loss 0.8636, |grad| 0.4853
	// step 2: loss 0.7534, |grad| 0.4233
}

// A distillation loss: alpha·T²·KL(p_teacher^T ‖ p_student^T) + (1 − alpha)·CE. The teacher's
// logits are constants (here computed elsewhere, for example by a NoGrad forward pass).
func ExampleKLDiv() {
	student, _ := autograd.NewParam("logits", []float64{2, 0, -1, 0, 1, 0}, 2, 3)
	teacher, _ := autograd.NewTensor([]float64{1, 0, 0, 0, 2, 1}, 2, 3)
	const alpha, temp = 0.5, 2.0
	tp := &autograd.Tape[float64]{}
	kl := autograd.KLDiv(tp, student, teacher, autograd.KLDivOptions{Temperature: temp})
	ce := autograd.CrossEntropy(tp, student, []int32{0, 1}, -100)
	loss := autograd.Add(tp, autograd.Scale(tp, kl, alpha*temp*temp), autograd.Scale(tp, ce, 1-alpha))
	if err := tp.Backward(loss); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("KL %.4f, CE %.4f, loss %.4f\n", kl.Item(), ce.Item(), loss.Item())
	fmt.Printf("d loss / d logits[0] = %.4f\n", student.Grad[:3])
	// Output:
	// KL 0.0510, CE 0.3606, loss 0.2824
	// d loss / d logits[0] = [0.0493 0.0071 -0.0564]
}

// Causal grouped-query attention over a batch of 2 sequences of 5 tokens, 4 query heads
// sharing 2 key/value heads of size 8.
func ExampleAttention() {
	cfg := autograd.AttentionConfig{Heads: 4, KVHeads: 2, HeadDim: 8}
	q, _ := autograd.NewTensor[float32](nil, 2, 5, cfg.Heads*cfg.HeadDim)
	k, _ := autograd.NewTensor[float32](nil, 2, 5, cfg.KVHeads*cfg.HeadDim)
	v, _ := autograd.NewTensor[float32](nil, 2, 5, cfg.KVHeads*cfg.HeadDim)
	tp := &autograd.Tape[float32]{}
	out := autograd.Attention(tp, q, k, v, cfg)
	fmt.Println(out.Shape, tp.Err())

	bad := autograd.AttentionConfig{Heads: 3, KVHeads: 2, HeadDim: 8}
	fmt.Println(autograd.Attention(tp, q, k, v, bad) == nil)
	fmt.Println(tp.Err())
	// Output:
	// [2 5 32] <nil>
	// true
	// autograd: Attention(q [2 5 32], k [2 5 16], v [2 5 16]): Heads 3 is not a multiple of KVHeads 2
}

// Evaluation without a tape: NoGrad records nothing, so nothing is kept for a backward pass.
func ExampleTape_noGrad() {
	w, _ := autograd.NewParam("w", []float32{1, 2, 3, 4}, 2, 2)
	x, _ := autograd.NewTensor([]float32{1, 1}, 1, 2)
	tp := &autograd.Tape[float32]{NoGrad: true}
	y := autograd.MatMul(tp, x, w, false, false)
	fmt.Println(y.Data, tp.Len(), y.RequiresGrad)
	// Output: [4 6] 0 false
}

// Rotary position embedding of Hugging Face checkpoints (rotate_half pairs) for two tokens at
// positions 0 and 1.
func ExampleRoPE() {
	x, _ := autograd.NewTensor([]float64{1, 0, 0, 0, 1, 0, 0, 0}, 2, 4)
	tp := &autograd.Tape[float64]{}
	y := autograd.RoPE(tp, x, []int32{0, 1}, autograd.RoPEConfig{HeadDim: 4, Theta: 10000, Style: autograd.RoPENeoX})
	fmt.Printf("%.4f\n", y.Data)
	// Output: [1.0000 0.0000 0.0000 0.0000 0.5403 0.0000 0.8415 0.0000]
}
