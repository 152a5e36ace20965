package runtime

import (
	"fmt"
	"math"

	"github.com/mcompress/mcompress/runtime/kernels"
)

// namedWeight is one weight of a Model under its GGUF name: a matrix (stored type) or a vector
// (norms, biases, RoPE frequencies, already float32).
type namedWeight struct {
	name string
	mat  kernels.Matrix
	vec  []float32
}

// weights lists the model's weights in GGUF order, the tied output once.
func (m *Model) weights() []namedWeight {
	w := []namedWeight{{name: "token_embd.weight", mat: m.tokEmbd}, {name: "output_norm.weight", vec: m.outNorm}}
	if !m.tied {
		w = append(w, namedWeight{name: "output.weight", mat: m.output})
	}
	if m.ropeFreqs != nil {
		w = append(w, namedWeight{name: "rope_freqs.weight", vec: m.ropeFreqs})
	}
	for i := range m.layers {
		l := &m.layers[i]
		p := fmt.Sprintf("blk.%d.", i)
		w = append(w,
			namedWeight{name: p + "attn_norm.weight", vec: l.attnNorm},
			namedWeight{name: p + "attn_q.weight", mat: l.wq},
			namedWeight{name: p + "attn_k.weight", mat: l.wk},
			namedWeight{name: p + "attn_v.weight", mat: l.wv},
			namedWeight{name: p + "attn_output.weight", mat: l.wo},
			namedWeight{name: p + "attn_q.bias", vec: l.bq},
			namedWeight{name: p + "attn_k.bias", vec: l.bk},
			namedWeight{name: p + "attn_v.bias", vec: l.bv},
			namedWeight{name: p + "attn_q_norm.weight", vec: l.qNorm},
			namedWeight{name: p + "attn_k_norm.weight", vec: l.kNorm},
			namedWeight{name: p + "ffn_norm.weight", vec: l.ffnNorm},
			namedWeight{name: p + "ffn_gate.weight", mat: l.wgate},
			namedWeight{name: p + "ffn_up.weight", mat: l.wup},
			namedWeight{name: p + "ffn_down.weight", mat: l.wdown})
	}
	return w
}

// nanWeight finds the first weight holding a NaN, dequantizing the matrices row by row (a NaN
// block scale makes its whole block NaN). It reads every weight, so it runs only once NaN
// logits have been seen. row is the ggml row (0 for vectors), col the element in it.
func (m *Model) nanWeight() (name string, row, col int, found bool) {
	var buf []float32
	for _, w := range m.weights() {
		if w.mat.Data == nil {
			if c := nanIndex(w.vec); c >= 0 {
				return w.name, 0, c, true
			}
			continue
		}
		if cap(buf) < w.mat.Cols {
			buf = make([]float32, w.mat.Cols)
		}
		buf = buf[:w.mat.Cols]
		for r := range w.mat.Rows {
			w.mat.Row(r, buf)
			if c := nanIndex(buf); c >= 0 {
				return w.name, r, c, true
			}
		}
	}
	return "", 0, 0, false
}

// nanIndex returns the index of the first NaN in x, or -1.
func nanIndex(x []float32) int {
	for i, v := range x {
		if math.IsNaN(float64(v)) {
			return i
		}
	}
	return -1
}

// checkLogits returns an error when logits hold a NaN (a sampler would silently pick token 0),
// naming the weight that holds a NaN; the weights are scanned only then.
func (m *Model) checkLogits(logits []float32) error {
	if nanIndex(logits) < 0 {
		return nil
	}
	if name, row, col, ok := m.nanWeight(); ok {
		return bad(fmt.Errorf("runtime: the logits are NaN: tensor %q holds a NaN at row %d, column %d", name, row, col))
	}
	return fmt.Errorf("runtime: the logits are NaN, though no weight holds a NaN (the activations overflowed)")
}
