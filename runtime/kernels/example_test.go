package kernels_test

import (
	"fmt"

	"github.com/mcompress/mcompress/runtime/kernels"
)

// GemmF32 multiplies row-major matrices given by their strides, here a 2×3 by 3×2 product.
func ExampleGemmF32() {
	a := []float32{1, 2, 3, 4, 5, 6}
	b := []float32{1, 0, 0, 1, 1, 1}
	c := make([]float32, 4)
	kernels.GemmF32(2, 2, 3, a, 3, b, 2, c, 2)
	fmt.Println(c)
	// Output: [4 5 10 11]
}

// SoftmaxExp leaves the exponentials and returns their sum; the caller divides (here
// directly, in attention after the weighted sum of values).
func ExampleSoftmaxExp() {
	x := []float32{0, 0, float32(-1e30)}
	sum := kernels.SoftmaxExp(x)
	for i := range x {
		x[i] /= sum
	}
	fmt.Println(x)
	// Output: [0.5 0.5 0]
}

// SwiGLU is the gated activation of llama's feed-forward block, in place in gate.
func ExampleSwiGLU() {
	gate := []float32{0, 10}
	up := []float32{3, 2}
	kernels.SwiGLU(gate, up)
	fmt.Printf("%.4f %.4f\n", gate[0], gate[1])
	// Output: 0.0000 19.9991
}
