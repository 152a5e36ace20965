package autograd

import (
	"math"
	"testing"
)

// fuzzBytes hands out bytes of the fuzz input, then zeros.
type fuzzBytes []byte

func (b *fuzzBytes) next() int {
	if len(*b) == 0 {
		return 0
	}
	v := (*b)[0]
	*b = (*b)[1:]
	return int(v)
}

// shape reads a rank (0..3) and dimensions (0..4).
func (b *fuzzBytes) shape() []int {
	s := make([]int, b.next()%4)
	for i := range s {
		s[i] = b.next() % 5
	}
	return s
}

func (b *fuzzBytes) tensor() *Tensor[float32] {
	s := b.shape()
	t, err := NewTensor[float32](nil, s...)
	if err != nil {
		return nil
	}
	for i := range t.Data {
		t.Data[i] = float32(b.next()%17) - 8
	}
	t.RequiresGrad = b.next()%2 == 0
	return t
}

func (b *fuzzBytes) ids(n int) []int32 {
	ids := make([]int32, n)
	for i := range ids {
		ids[i] = int32(int8(b.next()))
	}
	return ids
}

// FuzzOpsNeverPanic feeds every op arbitrary shapes, attributes and indices: an op must either
// work (and then so must its backward pass) or record an error, never panic.
func FuzzOpsNeverPanic(f *testing.F) {
	f.Add([]byte{0, 2, 3, 4, 2, 4, 5})
	f.Add([]byte{10, 3, 2, 3, 4, 3, 2, 3, 2, 3, 2, 3, 2})
	f.Add([]byte{15, 2, 2, 3, 1, 0, 2, 255})
	f.Fuzz(func(t *testing.T, data []byte) {
		b := fuzzBytes(data)
		tp := &Tape[float32]{Threads: 1 + b.next()%3}
		x, y, z := b.tensor(), b.tensor(), b.tensor()
		var out *Tensor[float32]
		switch b.next() % int(numOpKinds-1) {
		case 0:
			out = MatMul(tp, x, y, b.next()%2 == 0, b.next()%2 == 0)
		case 1:
			out = Add(tp, x, y)
		case 2:
			out = Mul(tp, x, y)
		case 3:
			out = AddBias(tp, x, y)
		case 4:
			out = Scale(tp, x, []float64{2, math.Inf(1), math.NaN(), 0}[b.next()%4])
		case 5:
			out = Sum(tp, x)
		case 6:
			out = Mean(tp, x)
		case 7:
			out = Reshape(tp, x, b.shape()...)
		case 8:
			out = Embedding(tp, x, b.ids(b.next()%5))
		case 9:
			out = RMSNorm(tp, x, y, []float64{1e-5, 0, -1}[b.next()%3])
		case 10:
			cfg := RoPEConfig{HeadDim: b.next() % 5, Theta: float64(b.next()), Style: RoPEStyle(b.next() % 3)}
			if b.next()%2 == 0 {
				cfg.Freqs = make([]float64, b.next()%3)
			}
			out = RoPE(tp, x, b.ids(b.next()%6), cfg)
		case 11:
			cfg := AttentionConfig{Heads: b.next() % 4, KVHeads: b.next() % 3, HeadDim: b.next() % 3, Scale: float64(b.next()%3) - 1}
			out = Attention(tp, x, y, z, cfg)
		case 12:
			out = SiLU(tp, x)
		case 13:
			out = SwiGLU(tp, x, y)
		case 14:
			out = LogSoftmax(tp, x)
		case 15:
			out = CrossEntropy(tp, x, b.ids(b.next()%6), -1)
		case 16:
			o := KLDivOptions{Temperature: float64(b.next()%3) - 1, Reverse: b.next()%2 == 0}
			if b.next()%2 == 0 {
				o.IgnoreRows = make([]bool, b.next()%5)
			}
			out = KLDiv(tp, x, y, o)
		}
		if (out == nil) != (tp.Err() != nil) {
			t.Fatalf("result %v with error %v", out, tp.Err())
		}
		if out == nil {
			return
		}
		loss := Sum(tp, out)
		if loss.RequiresGrad {
			if err := tp.Backward(loss); err != nil {
				t.Fatal(err)
			}
		}
	})
}
