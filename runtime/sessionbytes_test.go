package runtime

import (
	"fmt"
	"testing"
)

// TestSessionBytes checks the estimate against what a session really allocates: its KV cache
// and, once a full batch has run, its activation buffers, for contexts shorter and longer than
// a batch, with and without a head width apart from hidden/heads.
func TestSessionBytes(t *testing.T) {
	for _, arch := range []string{"llama", "qwen3"} {
		cfg := tinyConfig(arch)
		m, err := FromTensors(cfg, randomTensors(cfg, 1), nil, Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		for _, ctxLen := range []int{1, 63, 64, 100, DefaultBatchSize + 37} {
			t.Run(fmt.Sprintf("%s/ctx=%d", arch, ctxLen), func(t *testing.T) {
				s, err := m.NewSession(ctxLen)
				if err != nil {
					t.Fatal(err)
				}
				var kv int64
				for l := range s.kc {
					kv += 4 * int64(len(s.kc[l])+len(s.vc[l]))
				}
				if s.CacheBytes() != kv {
					t.Errorf("CacheBytes %d, allocated %d", s.CacheBytes(), kv)
				}
				s.buf.ensure(min(ctxLen, DefaultBatchSize), cfg, s.rope.dims)
				b := &s.buf
				var acts int64
				for _, x := range [][]float32{b.x, b.xn, b.tmp, b.q, b.k, b.v, b.att, b.gate, b.up, b.cs} {
					acts += 4 * int64(len(x))
				}
				if got, want := SessionBytes(cfg, ctxLen), kv+acts; got != want {
					t.Errorf("SessionBytes %d, allocated %d (cache %d, activations %d)", got, want, kv, acts)
				}
			})
		}
		m.Close()
	}
}
