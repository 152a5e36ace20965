package runtime

import (
	"fmt"
	"math"
	"sync"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/runtime/kernels"
)

// DefaultBatchSize is the number of prompt tokens a Session processes together by default.
const DefaultBatchSize = 512

// maxCacheBytes bounds the KV cache a Session allocates.
const maxCacheBytes = 64 << 30

// Session is one sequence being evaluated: a KV cache of up to Context() positions and the
// scratch buffers of the forward pass. A Session is not safe for concurrent use; run several
// Sessions of one Model for that.
type Session struct {
	m      *Model
	ctx    int
	ctxPad int         // ctx rounded up to a multiple of 64: the row length of the key cache
	kc     [][]float32 // per layer: keys transposed, KVHeads × HeadDim rows of ctxPad positions
	vc     [][]float32 // per layer: ctx rows of KVDim values
	n      int         // positions filled
	rope   *rope
	local  *rope // the sliding-window layers' RoPE when it differs (Gemma 3); nil otherwise

	attnMu   sync.Mutex
	attnFree []*attnScratch // scratch of attention tasks not in use

	// BatchSize is the most tokens processed as one matrix; longer inputs are split.
	// 0 means DefaultBatchSize.
	BatchSize int

	buf scratch
}

// scratch holds the activations of one micro-batch.
type scratch struct {
	cap                 int
	x, xn, tmp, q, k, v []float32
	att, gate, up, cs   []float32
	csLocal             []float32 // RoPE tables of the local layers (nil unless they differ)
	acts                kernels.Acts
}

// DefaultContext bounds the context of a Session created with ctxLen 0.
const DefaultContext = 4096

// NewSession returns a Session with room for ctxLen positions; 0 means the model's training
// context length, at most DefaultContext.
func (m *Model) NewSession(ctxLen int) (*Session, error) {
	if ctxLen == 0 {
		ctxLen = min(m.cfg.ContextLength, DefaultContext)
	}
	if ctxLen <= 0 {
		return nil, bad(fmt.Errorf("runtime: context length %d must be positive", ctxLen))
	}
	ctxPad := cachePad(ctxLen)
	bytes := cacheBytes(m.cfg, ctxLen)
	if bytes > maxCacheBytes {
		return nil, bad(fmt.Errorf("runtime: KV cache for %d positions would take %d bytes (limit %d); use a shorter context", ctxLen, bytes, int64(maxCacheBytes)))
	}
	s := &Session{m: m, ctx: ctxLen, ctxPad: ctxPad, rope: newRope(m, ctxLen), local: newLocalRope(m)}
	s.kc = make([][]float32, m.cfg.Layers)
	s.vc = make([][]float32, m.cfg.Layers)
	for i := range s.kc {
		s.kc[i] = make([]float32, ctxPad*m.cfg.KVDim())
		s.vc[i] = make([]float32, ctxLen*m.cfg.KVDim())
	}
	return s, nil
}

// Context returns the number of positions the KV cache holds.
func (s *Session) Context() int { return s.ctx }

// Len returns the number of positions evaluated so far (the next position to fill).
func (s *Session) Len() int { return s.n }

// Reset empties the KV cache.
func (s *Session) Reset() { s.n = 0 }

// CacheBytes returns the size of the KV cache in bytes.
func (s *Session) CacheBytes() int64 { return cacheBytes(s.m.cfg, s.ctx) }

// cachePad rounds ctxLen up to a multiple of 64: the row length of the key cache.
func cachePad(ctxLen int) int { return (ctxLen + 63) &^ 63 }

// cacheBytes is the size of the float32 KV cache of ctxLen positions: per layer, keys
// transposed in rows of cachePad(ctxLen) positions and values in ctxLen rows.
func cacheBytes(cfg convert.Config, ctxLen int) int64 {
	return int64(cfg.Layers) * int64(ctxLen+cachePad(ctxLen)) * int64(cfg.KVDim()) * 4
}

// SessionBytes estimates the memory of a Session of ctxLen positions processing batches of
// DefaultBatchSize tokens: its KV cache (CacheBytes) and the activations of one full batch.
// Logits that Forward returns belong to the caller and are not counted; neither are the
// few small per-thread buffers of the matrix products.
func SessionBytes(cfg convert.Config, ctxLen int) int64 {
	return cacheBytes(cfg, ctxLen) + int64(min(ctxLen, DefaultBatchSize))*int64(actFloats(cfg, cfg.RopeDim))*4
}

// actFloats is the number of activation values scratch.ensure allocates per token.
func actFloats(cfg convert.Config, ropeDims int) int {
	n := 3*cfg.Hidden + 2*cfg.QDim() + 2*cfg.KVDim() + 2*cfg.FFN + ropeDims
	if cfg.RopeThetaSWA > 0 {
		n += ropeDims
	}
	return n
}

// Forward evaluates tokens at positions pos, pos+1, ... and returns logits: for every token
// (len(tokens) rows of VocabSize values, row-major) when all is true, else for the last token
// only. pos must not exceed Len(): the cache keeps positions before pos and forgets the rest,
// so Forward(tokens, 0, ...) starts a new sequence. The returned slice is the caller's.
func (s *Session) Forward(tokens []int32, pos int, all bool) ([]float32, error) {
	cfg := s.m.cfg
	if s.m.pool == nil {
		return nil, fmt.Errorf("runtime: model is closed")
	}
	if len(tokens) == 0 {
		return nil, fmt.Errorf("runtime: no tokens to evaluate")
	}
	if pos < 0 || pos > s.n {
		return nil, fmt.Errorf("runtime: position %d out of range (cache holds %d positions)", pos, s.n)
	}
	if pos+len(tokens) > s.ctx {
		return nil, fmt.Errorf("runtime: %d tokens at position %d exceed the context of %d", len(tokens), pos, s.ctx)
	}
	for i, t := range tokens {
		if t < 0 || int(t) >= cfg.VocabSize {
			return nil, fmt.Errorf("runtime: token %d at index %d out of range (vocabulary %d)", t, i, cfg.VocabSize)
		}
	}
	s.n = pos
	bs := s.BatchSize
	if bs <= 0 {
		bs = DefaultBatchSize
	}
	var out []float32
	if all {
		out = make([]float32, len(tokens)*cfg.VocabSize)
	} else {
		out = make([]float32, cfg.VocabSize)
	}
	for b := 0; b < len(tokens); b += bs {
		e := min(len(tokens), b+bs)
		var dst []float32
		switch {
		case all:
			dst = out[b*cfg.VocabSize : e*cfg.VocabSize]
		case e == len(tokens):
			dst = out
		}
		s.batch(tokens[b:e], s.n, dst, all)
		s.n += e - b
	}
	return out, nil
}

// batch runs tokens (at most the batch size) at position pos through the model and writes
// logits into dst: all rows when all is set, else the last row; nothing when dst is nil.
func (s *Session) batch(tokens []int32, pos int, dst []float32, all bool) {
	s.embed(tokens, pos)
	for li := range s.m.layers {
		s.block(li, len(tokens), pos)
	}
	if dst != nil {
		s.logits(len(tokens), dst, all)
	}
}

// embed looks up the embeddings of tokens (at positions pos, pos+1, ...) into the hidden
// states s.buf.x, scaled by sqrt(Hidden) where the model asks for it, and fills the RoPE
// tables of those positions.
func (s *Session) embed(tokens []int32, pos int) {
	m, cfg, p := s.m, s.m.cfg, s.m.pool
	T, h := len(tokens), cfg.Hidden
	b := &s.buf
	b.ensure(T, cfg, s.rope.dims)
	x := b.x[:T*h]
	scale := float32(math.Sqrt(float64(h)))
	p.For(T, kernels.ChunkFor(4*h), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			m.tokEmbd.Row(int(tokens[t]), x[t*h:(t+1)*h])
			if cfg.EmbedScale {
				for i := range x[t*h : (t+1)*h] {
					x[t*h+i] *= scale
				}
			}
			s.rope.table(b.cs[t*s.rope.dims:(t+1)*s.rope.dims], pos+t)
			if s.local != nil {
				s.local.table(b.csLocal[t*s.rope.dims:(t+1)*s.rope.dims], pos+t)
			}
		}
	})
}

// block runs transformer block li on the T hidden states in s.buf.x (tokens at positions
// pos, pos+1, ..., whose RoPE tables embed filled), in place, storing their keys and values in
// the block's cache.
func (s *Session) block(li, T, pos int) {
	m, cfg, p := s.m, s.m.cfg, s.m.pool
	h, qd, kvd, hd := cfg.Hidden, cfg.QDim(), cfg.KVDim(), cfg.HeadDim
	b := &s.buf
	x, xn, tmp := b.x[:T*h], b.xn[:T*h], b.tmp[:T*h]
	q, k, v, att := b.q[:T*qd], b.k[:T*kvd], b.v[:T*kvd], b.att[:T*qd]
	gate, up := b.gate[:T*cfg.FFN], b.up[:T*cfg.FFN]
	eps := cfg.RMSNormEps
	l := &m.layers[li]
	local := cfg.LocalLayer(li)
	r, csAll := s.rope, b.cs
	if local && s.local != nil {
		r, csAll = s.local, b.csLocal
	}
	if m.observer != nil {
		m.observe(SiteBlockInput, li, x, T, h)
	}
	norm(p, xn, x, l.attnNorm, T, h, eps)
	if m.observer != nil {
		m.observe(SiteAttnInput, li, xn, T, h)
	}
	b.acts.Reset(xn, T, h)
	kernels.MatMul(p, q, l.wq, &b.acts)
	kernels.MatMul(p, k, l.wk, &b.acts)
	kernels.MatMul(p, v, l.wv, &b.acts)
	if l.bq != nil {
		addBias(q, l.bq)
		addBias(k, l.bk)
		addBias(v, l.bv)
	}
	kc, vc := s.kc[li], s.vc[li]
	p.For(T, kernels.ChunkFor(8*(qd+kvd)), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			qt, kt := q[t*qd:(t+1)*qd], k[t*kvd:(t+1)*kvd]
			if l.qNorm != nil {
				for o := 0; o < qd; o += hd {
					rmsNorm(qt[o:o+hd], qt[o:o+hd], l.qNorm, eps)
				}
				for o := 0; o < kvd; o += hd {
					rmsNorm(kt[o:o+hd], kt[o:o+hd], l.kNorm, eps)
				}
			}
			cs := csAll[t*r.dims : (t+1)*r.dims]
			r.apply(qt, hd, cs)
			r.apply(kt, hd, cs)
			for d, kv := range kt {
				kc[d*s.ctxPad+pos+t] = kv
			}
			copy(vc[(pos+t)*kvd:(pos+t+1)*kvd], v[t*kvd:(t+1)*kvd])
		}
	})
	window := 0
	if local {
		window = cfg.SlidingWindow
	}
	s.attention(att, q, kc, vc, T, pos, window)
	if m.observer != nil {
		m.observe(SiteAttnOutput, li, att, T, qd)
	}
	b.acts.Reset(att, T, qd)
	kernels.MatMul(p, tmp, l.wo, &b.acts)
	if l.attnPost != nil {
		norm(p, tmp, tmp, l.attnPost, T, h, eps)
	}
	add(p, x, tmp, T, h)

	norm(p, xn, x, l.ffnNorm, T, h, eps)
	if m.observer != nil {
		m.observe(SiteFFNInput, li, xn, T, h)
	}
	b.acts.Reset(xn, T, h)
	kernels.MatMul(p, gate, l.wgate, &b.acts)
	kernels.MatMul(p, up, l.wup, &b.acts)
	p.For(T, kernels.ChunkFor(16*cfg.FFN), func(lo, hi int) {
		if cfg.GELU {
			geGLU(gate[lo*cfg.FFN:hi*cfg.FFN], up[lo*cfg.FFN:hi*cfg.FFN])
		} else {
			kernels.SwiGLU(gate[lo*cfg.FFN:hi*cfg.FFN], up[lo*cfg.FFN:hi*cfg.FFN])
		}
	})
	if m.observer != nil {
		m.observe(SiteFFNDown, li, gate, T, cfg.FFN)
	}
	b.acts.Reset(gate, T, cfg.FFN)
	kernels.MatMul(p, tmp, l.wdown, &b.acts)
	if l.ffnPost != nil {
		norm(p, tmp, tmp, l.ffnPost, T, h, eps)
	}
	add(p, x, tmp, T, h)
	if m.observer != nil {
		m.observe(SiteBlockOutput, li, x, T, h)
	}
}

// logits applies the output norm and projection to the T hidden states in s.buf.x, writing
// every row's logits into dst when all is set, else the last row's; final-logit soft-capping
// follows where the model has it.
func (s *Session) logits(T int, dst []float32, all bool) {
	m, cfg, p := s.m, s.m.cfg, s.m.pool
	h := cfg.Hidden
	b := &s.buf
	x, xn := b.x[:T*h], b.xn[:T*h]
	first := 0
	if !all {
		first = T - 1
	}
	n := T - first
	norm(p, xn[:n*h], x[first*h:], m.outNorm, n, h, cfg.RMSNormEps)
	if m.observer != nil {
		m.observe(SiteOutput, len(m.layers), xn, n, h)
	}
	b.acts.Reset(xn, n, h)
	kernels.MatMul(p, dst, m.output, &b.acts)
	if cfg.FinalSoftcap > 0 {
		c, V := float32(cfg.FinalSoftcap), cfg.VocabSize
		p.For(n, kernels.ChunkFor(8*V), func(lo, hi int) {
			softcap(dst[lo*V:hi*V], c)
		})
	}
}

// attnRows is the number of query rows (heads of one KV group times tokens) an attention task
// takes: the scores of a task are attnRows × positions floats.
const attnRows = 32

// attnScratch holds one attention task's packed queries, scores and outputs.
type attnScratch struct {
	q, s, o []float32
}

func (s *Session) getAttnScratch() *attnScratch {
	s.attnMu.Lock()
	defer s.attnMu.Unlock()
	if n := len(s.attnFree); n > 0 {
		a := s.attnFree[n-1]
		s.attnFree = s.attnFree[:n-1]
		return a
	}
	hd := s.m.cfg.HeadDim
	return &attnScratch{q: make([]float32, attnRows*hd), s: make([]float32, attnRows*s.ctxPad), o: make([]float32, attnRows*hd)}
}

func (s *Session) putAttnScratch(a *attnScratch) {
	s.attnMu.Lock()
	s.attnFree = append(s.attnFree, a)
	s.attnMu.Unlock()
}

// attention computes causal grouped-query attention for T queries at positions pos.. against
// the cache (which already holds their keys and values), writing each head's output into att.
// With window > 0 a query sees only the last window positions (itself included), as
// llama.cpp's standard sliding window; scores are soft-capped where the model says so.
// The query rows of one KV head (its group's heads for each token, token-major) are taken
// attnRows at a time: scores = Q·Kᵀ against the transposed key cache, the softmax of each row
// over its causal length, then P·V; every value is computed the same way whatever the tiling,
// so results do not depend on the thread count or on T.
func (s *Session) attention(att, q, kc, vc []float32, T, pos, window int) {
	cfg := s.m.cfg
	nh, nkv, hd, qd, kvd := cfg.Heads, cfg.KVHeads, cfg.HeadDim, cfg.QDim(), cfg.KVDim()
	group := nh / nkv
	rows := T * group
	blocks := (rows + attnRows - 1) / attnRows
	scale := float32(cfg.QueryScale())
	capv := float32(cfg.AttnSoftcap)
	s.m.pool.For(nkv*blocks, kernels.ChunkFor(2*attnRows*(pos+T)*hd), func(lo, hi int) {
		sc := s.getAttnScratch()
		defer s.putAttnScratch(sc)
		for task := lo; task < hi; task++ {
			g, blk := task/blocks, task%blocks
			m0, m1 := blk*attnRows, min(rows, (blk+1)*attnRows)
			mr := m1 - m0
			mp := (mr + 7) &^ 7 // rows padded for the 8-row kernels
			nmax := pos + (m1-1)/group + 1
			// Positions before c0 are outside every row's window: the products start there.
			c0 := 0
			if window > 0 {
				c0 = max(0, pos+m0/group+1-window)
			}
			nc := nmax - c0
			width := min((nc+63)&^63, s.ctxPad-c0) // score columns, within the cache row
			for m := m0; m < m1; m++ {
				t, i := m/group, m%group
				src := q[t*qd+(g*group+i)*hd : t*qd+(g*group+i+1)*hd]
				dst := sc.q[(m-m0)*hd : (m-m0+1)*hd]
				for d, v := range src {
					dst[d] = v * scale
				}
			}
			clear(sc.q[mr*hd : mp*hd])
			S := sc.s[:mp*width]
			kernels.GemmF32(mp, width, hd, sc.q, hd, kc[g*hd*s.ctxPad+c0:(g+1)*hd*s.ctxPad], s.ctxPad, S, width)
			var inv [attnRows]float32
			for m := m0; m < m1; m++ {
				n := pos + m/group + 1 - c0 // columns up to the row's own position
				row := S[(m-m0)*width : (m-m0)*width+width]
				lo := 0
				if window > 0 {
					lo = max(0, n-window)
				}
				if capv > 0 {
					softcap(row[lo:n], capv)
				}
				inv[m-m0] = 1 / kernels.SoftmaxExp(row[lo:n])
				clear(row[:lo])
				clear(row[n:nc])
			}
			for r := mr; r < mp; r++ {
				clear(S[r*width : r*width+nc])
			}
			kernels.GemmF32(mp, hd, nc, S, width, vc[c0*kvd+g*hd:], kvd, sc.o, hd)
			for m := m0; m < m1; m++ {
				t, i := m/group, m%group
				dst := att[t*qd+(g*group+i)*hd : t*qd+(g*group+i+1)*hd]
				f := inv[m-m0]
				for d, v := range sc.o[(m-m0)*hd : (m-m0+1)*hd] {
					dst[d] = v * f
				}
			}
		}
	})
}

// norm applies RMSNorm with weight w to each of the T rows of x (n values each) into dst.
func norm(p *kernels.Pool, dst, x, w []float32, T, n int, eps float64) {
	p.For(T, kernels.ChunkFor(4*n), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			rmsNorm(dst[t*n:(t+1)*n], x[t*n:(t+1)*n], w, eps)
		}
	})
}

// add adds y to x (T rows of n values).
func add(p *kernels.Pool, x, y []float32, T, n int) {
	p.For(T, kernels.ChunkFor(n), func(lo, hi int) {
		xs, ys := x[lo*n:hi*n], y[lo*n:hi*n]
		for i, v := range ys {
			xs[i] += v
		}
	})
}

// ensure sizes the buffers for T tokens.
func (b *scratch) ensure(T int, cfg convert.Config, ropeDims int) {
	if T <= b.cap {
		return
	}
	h, qd, kvd, f := cfg.Hidden, cfg.QDim(), cfg.KVDim(), cfg.FFN
	b.x, b.xn, b.tmp = make([]float32, T*h), make([]float32, T*h), make([]float32, T*h)
	b.q, b.att = make([]float32, T*qd), make([]float32, T*qd)
	b.k, b.v = make([]float32, T*kvd), make([]float32, T*kvd)
	b.gate, b.up = make([]float32, T*f), make([]float32, T*f)
	b.cs = make([]float32, T*ropeDims)
	if cfg.RopeThetaSWA > 0 {
		b.csLocal = make([]float32, T*ropeDims)
	}
	b.cap = T
}
