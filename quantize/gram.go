package quantize

import "fmt"

// Gram is the second-moment statistic of one linear-layer input that SparseGPT and GPTQ need:
// H = Σ x xᵀ over the activation vectors x entering the matrices of Weights, summed in float64,
// and the number of vectors summed. Matrices that share an input (attn_q, attn_k and attn_v;
// ffn_gate and ffn_up) share one Gram. It is plain data, produced by package calibrate, and
// additive: the statistics of two runs merge by adding sums and counts.
type Gram struct {
	// Weights are the GGUF names of the matrices that take this input.
	Weights []string
	// N is the input's length (the matrices' row length, ggml's ne0).
	N int
	// Sum holds H, N×N row-major and symmetric.
	Sum []float64
	// Count is the number of activation vectors summed.
	Count int64
}

// Merge adds o's sums and count to g, element by element. Grams of different sizes are an
// error.
func (g *Gram) Merge(o *Gram) error {
	if g.N != o.N || len(g.Sum) != len(o.Sum) {
		return invalidf("gram: merge: %v is %d×%d and %v is %d×%d", g.Weights, g.N, g.N, o.Weights, o.N, o.N)
	}
	for i, v := range o.Sum {
		g.Sum[i] += v
	}
	g.Count += o.Count
	return nil
}

// Mean returns H/Count, the mean of x xᵀ (zero when nothing was summed).
func (g *Gram) Mean() []float64 {
	m := make([]float64, len(g.Sum))
	if g.Count == 0 {
		return m
	}
	for i, v := range g.Sum {
		m[i] = v / float64(g.Count)
	}
	return m
}

// String describes g briefly ("Gram 64×64 of [blk.0.attn_q.weight ...] over 512 vectors").
func (g *Gram) String() string {
	return fmt.Sprintf("Gram %d×%d of %v over %d vectors", g.N, g.N, g.Weights, g.Count)
}
