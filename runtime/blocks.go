package runtime

import "fmt"

// Embed writes the hidden states entering block 0 for tokens into x (len(tokens) rows of Hidden
// values): the token embeddings, computed exactly as Forward computes them. With Blocks it lets
// a caller run a model one block at a time over stored hidden states (block-by-block
// calibration), each block running once per sequence instead of the whole model once per
// block. The KV cache is not touched.
func (s *Session) Embed(tokens []int32, x []float32) error {
	if err := s.checkSpan(0, len(tokens), len(x)); err != nil {
		return err
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= s.m.cfg.VocabSize {
			return fmt.Errorf("runtime: token %d at index %d out of range (vocabulary %d)", t, i, s.m.cfg.VocabSize)
		}
	}
	h, bs := s.m.cfg.Hidden, s.batchSize()
	for b := 0; b < len(tokens); b += bs {
		e := min(len(tokens), b+bs)
		s.embed(tokens[b:e], b)
		copy(x[b*h:e*h], s.buf.x[:(e-b)*h])
	}
	return nil
}

// Blocks runs the blocks [from, to) of the model on the hidden states x entering block from, for
// positions pos, pos+1, ... (len(x)/Hidden of them), and overwrites x with the states leaving
// block to−1. It fills the KV cache of those blocks at those positions, so a sequence can be
// continued block range by block range; as with Forward, pos must not exceed Len(). The
// ActivationObserver sees the blocks run, as in Forward. Results are the bits Forward computes
// for the same states, whatever the thread count.
func (s *Session) Blocks(x []float32, pos, from, to int) error {
	if from < 0 || to > len(s.m.layers) || from > to {
		return fmt.Errorf("runtime: blocks [%d, %d) out of range (the model has %d)", from, to, len(s.m.layers))
	}
	h := s.m.cfg.Hidden
	if len(x)%h != 0 {
		return fmt.Errorf("runtime: %d hidden values are not rows of %d", len(x), h)
	}
	if err := s.checkSpan(pos, len(x)/h, len(x)); err != nil {
		return err
	}
	bs := s.batchSize()
	T := len(x) / h
	s.n = pos
	for b := 0; b < T; b += bs {
		e := min(T, b+bs)
		s.load(x[b*h:e*h], pos+b)
		for li := from; li < to; li++ {
			s.block(li, e-b, pos+b)
		}
		copy(x[b*h:e*h], s.buf.x[:(e-b)*h])
	}
	s.n = pos + T
	return nil
}

// load puts the hidden states x (rows of Hidden values, at positions pos, pos+1, ...) where
// embed would have left them and fills the RoPE tables of those positions, so that block can
// run on them.
func (s *Session) load(x []float32, pos int) {
	cfg := s.m.cfg
	h := cfg.Hidden
	T := len(x) / h
	b := &s.buf
	b.ensure(T, cfg, s.rope.dims)
	copy(b.x[:T*h], x)
	for t := range T {
		s.rope.table(b.cs[t*s.rope.dims:(t+1)*s.rope.dims], pos+t)
		if s.local != nil {
			s.local.table(b.csLocal[t*s.rope.dims:(t+1)*s.rope.dims], pos+t)
		}
	}
}

// checkSpan checks T positions from pos against the session and n hidden values against T.
func (s *Session) checkSpan(pos, T, n int) error {
	if s.m.pool == nil {
		return fmt.Errorf("runtime: model is closed")
	}
	if T == 0 {
		return fmt.Errorf("runtime: no positions to evaluate")
	}
	if n != T*s.m.cfg.Hidden {
		return fmt.Errorf("runtime: %d hidden values for %d positions of %d", n, T, s.m.cfg.Hidden)
	}
	if pos < 0 || pos > s.n {
		return fmt.Errorf("runtime: position %d out of range (cache holds %d positions)", pos, s.n)
	}
	if pos+T > s.ctx {
		return fmt.Errorf("runtime: %d positions at %d exceed the context of %d", T, pos, s.ctx)
	}
	return nil
}

// batchSize is the session's micro-batch.
func (s *Session) batchSize() int {
	if s.BatchSize <= 0 {
		return DefaultBatchSize
	}
	return s.BatchSize
}
