package kernels

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// BenchmarkMatVec measures one 2048x2048 matrix-vector product (token generation's shape) per
// type, SIMD and pure Go, reporting weight bytes per second as SetBytes.
func BenchmarkMatVec(b *testing.B) {
	benchMatMul(b, 1)
}

// BenchmarkMatMul measures a 2048x2048 matrix times 64 tokens (prompt processing's shape).
func BenchmarkMatMul(b *testing.B) {
	benchMatMul(b, 64)
}

// BenchmarkMatMulSmall measures the fixture model's FFN shape: 768x256 weights times 128
// tokens, where per-call overheads (reductions, activation regrouping) weigh most.
func BenchmarkMatMulSmall(b *testing.B) {
	benchMatMulShape(b, 768, 256, 128)
}

func benchMatMul(b *testing.B, ntok int) { benchMatMulShape(b, 2048, 2048, ntok) }

func benchMatMulShape(b *testing.B, rows, cols, ntok int) {
	rng := rand.New(rand.NewPCG(1, 1))
	x := randomActs(rng, ntok, cols)
	p := NewPool(0)
	defer p.Close()
	for _, typ := range []gguf.TensorType{gguf.TypeF32, gguf.TypeF16, gguf.TypeQ8_0, gguf.TypeQ4_0, gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeQ5_K, gguf.TypeQ3_K} {
		w, _ := NewMatrix(typ, rows, cols, randomRow(rng, typ, rows*cols))
		dst := make([]float32, ntok*rows)
		for _, pure := range []bool{false, true} {
			name := fmt.Sprintf("%s/%s", typ, map[bool]string{false: SIMD(), true: "purego"}[pure])
			b.Run(name, func(b *testing.B) {
				defer func(v bool) { UsePureGo = v }(UsePureGo)
				UsePureGo = pure
				b.SetBytes(int64(len(w.Data)))
				for b.Loop() {
					var a Acts
					a.Reset(x, ntok, cols)
					MatMul(p, dst, w, &a)
				}
			})
		}
	}
}
