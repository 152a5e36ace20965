package distill

import (
	"errors"
	"fmt"
	"math"
	"math/bits"
	"slices"
)

// The compact coding of one position's teacher top-k (one "row"), byte-aligned:
//
//	1 bit          1 when the row has exactly k entries; else 0 and Elias-gamma(count+1)
//	16 bits        qmax: the largest log-probability as round(−lp·2048) (1/2048 nat, to −32)
//	16 bits        qtail: the tail's log-probability as round(−lp·1024), 65535 for no tail
//	4 bits         b, the Rice parameter of the id gaps
//	count × Rice_b the ids in ascending order as gaps: id₀+1−1, then idᵢ − idᵢ₋₁ − 1
//	count × bits   qᵢ = round((lpmax − lpᵢ)/step), lpmax the decoded largest log-probability
//
// so the most probable token is kept to 1/2048 nat and the others to step/2 (1/32 nat with
// the default 8 bits of 1/16 nat). Entries more than (2^bits − 1)·step below the largest are
// folded into the tail before coding. At k = 128 over a 2048-token vocabulary a row takes about
// 220 bytes; at k = 32, about 60 (see docs/DISTILL.md for measurements).

const (
	maxScale  = 2048 // steps per nat of the largest log-probability
	tailScale = 1024 // steps per nat of the tail log-probability
	noTail    = 0xFFFF
	maxRice   = 15
	// maxUnary bounds the unary part of a Rice code when decoding untrusted bytes.
	maxUnary = 1 << 20
)

// errCorruptRow is wrapped by decoding errors.
var errCorruptRow = errors.New("corrupt top-k row")

// topKCodec holds the coding parameters of a cache.
type topKCodec struct {
	k    int     // entries per row (at most)
	bits int     // bits per log-probability difference (1..16)
	step float64 // nats per step of those differences
}

func (c topKCodec) maxQ() int { return 1<<c.bits - 1 }

func (c topKCodec) validate(vocab int) error {
	switch {
	case c.k <= 0 || c.k > vocab:
		return fmt.Errorf("k %d must be in [1, vocabulary %d]", c.k, vocab)
	case c.bits < 1 || c.bits > 16:
		return fmt.Errorf("log-probability bits %d must be in [1, 16]", c.bits)
	case !(c.step > 0) || c.step > 64 || math.IsInf(c.step, 0):
		return fmt.Errorf("log-probability step %g must be in (0, 64]", c.step)
	case vocab > 1<<30:
		return fmt.Errorf("vocabulary %d too large", vocab)
	}
	return nil
}

// topKSelector finds the k largest logits of a row and their log-probabilities.
type topKSelector struct {
	idx  []int32
	ids  []int32
	lps  []float64
	keep []int32
}

// selectRow fills s.ids (ascending) and s.lps with the row's top-k tokens and their
// log-probabilities, and returns the tail log-probability (−Inf when k covers the vocabulary),
// all in float64 from the float32 logits. Ties are broken by the smaller id.
func (s *topKSelector) selectRow(z []float32, k int) float64 {
	v := len(z)
	k = min(k, v)
	lse := logSumExp32(z, 1)
	// Partial selection: a min-heap of the k best (value, then smaller id wins).
	better := func(a, b int32) bool { // a ranks above b
		if z[a] != z[b] {
			return z[a] > z[b]
		}
		return a < b
	}
	h := s.idx[:0]
	down := func(i int) {
		for {
			l := 2*i + 1
			if l >= len(h) {
				return
			}
			w := l
			if r := l + 1; r < len(h) && better(h[l], h[r]) {
				w = r
			}
			if !better(h[i], h[w]) {
				return
			}
			h[i], h[w] = h[w], h[i]
			i = w
		}
	}
	for id := int32(0); int(id) < v; id++ {
		if len(h) < k {
			h = append(h, id)
			for i := len(h) - 1; i > 0; {
				p := (i - 1) / 2
				if !better(h[p], h[i]) {
					break
				}
				h[p], h[i] = h[i], h[p]
				i = p
			}
			continue
		}
		if better(id, h[0]) {
			h[0] = id
			down(0)
		}
	}
	s.idx = h
	s.ids = append(s.ids[:0], h...)
	slices.Sort(s.ids)
	s.lps = s.lps[:0]
	for _, id := range s.ids {
		s.lps = append(s.lps, float64(z[id])-lse)
	}
	if k == v {
		return math.Inf(-1)
	}
	// Tail: log Σ over the other tokens, computed directly (not as 1 − Σ top-k) for accuracy.
	m := math.Inf(-1)
	j := 0
	for id, x := range z {
		if j < len(s.ids) && int(s.ids[j]) == id {
			j++
			continue
		}
		m = math.Max(m, float64(x))
	}
	sum := 0.0
	j = 0
	for id, x := range z {
		if j < len(s.ids) && int(s.ids[j]) == id {
			j++
			continue
		}
		sum += math.Exp(float64(x) - m)
	}
	return m + math.Log(sum) - lse
}

// encodeRow appends the coding of one row (ids ascending, lps their log-probabilities, tail the
// tail log-probability or −Inf) to dst. Entries below the coding range join the tail.
func (c topKCodec) encodeRow(dst []byte, ids []int32, lps []float64, tail float64, keep []int32) ([]byte, []int32) {
	lpmax := math.Inf(-1)
	for _, lp := range lps {
		lpmax = math.Max(lpmax, lp)
	}
	qmax := 0
	if len(lps) > 0 {
		qmax = int(math.Round(-lpmax * maxScale))
		qmax = min(max(qmax, 0), 0xFFFF)
	}
	dmax := -float64(qmax) / maxScale
	// Fold entries out of range into the tail.
	keep = keep[:0]
	for i, lp := range lps {
		q := math.Round((dmax - lp) / c.step)
		if q > float64(c.maxQ()) {
			tail = logAddExp(tail, lp)
			continue
		}
		keep = append(keep, int32(i))
	}
	qtail := noTail
	if !math.IsInf(tail, -1) {
		qtail = int(math.Round(-tail * tailScale))
		qtail = min(max(qtail, 0), noTail-1)
	}
	var w bitWriter
	w.buf = dst
	n := len(keep)
	if n == c.k {
		w.write(1, 1)
	} else {
		w.write(0, 1)
		w.gamma(uint64(n + 1))
	}
	w.write(uint64(qmax), 16)
	w.write(uint64(qtail), 16)
	// The Rice parameter that minimises the total length of the gaps.
	gap := func(j int) uint64 {
		id := ids[keep[j]]
		if j == 0 {
			return uint64(id)
		}
		return uint64(id - ids[keep[j-1]] - 1)
	}
	best, bestLen := 0, uint64(math.MaxUint64)
	for b := 0; b <= maxRice; b++ {
		var l uint64
		for j := range n {
			l += gap(j)>>b + 1 + uint64(b)
		}
		if l < bestLen {
			best, bestLen = b, l
		}
	}
	w.write(uint64(best), 4)
	for j := range n {
		w.rice(gap(j), best)
	}
	for _, i := range keep {
		q := int(math.Round((dmax - lps[i]) / c.step))
		w.write(uint64(max(q, 0)), c.bits)
	}
	return w.flush(), keep
}

// decodeRow reads one row from src and appends its ids and log-probabilities to tk (without
// closing the row). It returns the number of bytes read.
func (c topKCodec) decodeRow(src []byte, vocab int, tk *TopKBatch) (int, error) {
	r := bitReader{buf: src}
	n := c.k
	if r.read(1) == 0 {
		n = int(r.gamma()) - 1
		if r.err == nil && (n < 0 || n > c.k) {
			return 0, fmt.Errorf("%w: %d entries, k is %d", errCorruptRow, n, c.k)
		}
	}
	qmax := r.read(16)
	qtail := r.read(16)
	b := int(r.read(4))
	if r.err != nil {
		return 0, fmt.Errorf("%w: %w", errCorruptRow, r.err)
	}
	id := int64(-1)
	start := len(tk.IDs)
	for range n {
		id += int64(r.rice(b)) + 1
		if r.err != nil {
			return 0, fmt.Errorf("%w: %w", errCorruptRow, r.err)
		}
		if id >= int64(vocab) {
			return 0, fmt.Errorf("%w: token id %d beyond the vocabulary (%d)", errCorruptRow, id, vocab)
		}
		tk.IDs = append(tk.IDs, int32(id))
	}
	lpmax := -float64(qmax) / maxScale
	for range n {
		q := r.read(c.bits)
		tk.LogP = append(tk.LogP, float32(lpmax-float64(q)*c.step))
	}
	if r.err != nil {
		tk.IDs, tk.LogP = tk.IDs[:start], tk.LogP[:start]
		return 0, fmt.Errorf("%w: %w", errCorruptRow, r.err)
	}
	tail := math.Inf(-1)
	if qtail != noTail {
		tail = -float64(qtail) / tailScale
	}
	tk.Tail = append(tk.Tail, float32(tail))
	return r.bytesRead(), nil
}

// closeRow ends the current row of tk.
func (tk *TopKBatch) closeRow() { tk.Off = append(tk.Off, int32(len(tk.IDs))) }

// emptyRow appends a row without teacher information.
func (tk *TopKBatch) emptyRow() {
	tk.Tail = append(tk.Tail, float32(math.Inf(-1)))
	tk.closeRow()
}

// logAddExp returns log(exp(a) + exp(b)).
func logAddExp(a, b float64) float64 {
	if math.IsInf(a, -1) {
		return b
	}
	if math.IsInf(b, -1) {
		return a
	}
	m := math.Max(a, b)
	return m + math.Log(math.Exp(a-m)+math.Exp(b-m))
}

// bitWriter appends bits to a byte slice, least significant bit first.
type bitWriter struct {
	buf  []byte
	acc  uint64
	nacc int
}

// write appends the low n (≤ 32) bits of v.
func (w *bitWriter) write(v uint64, n int) {
	w.acc |= (v & (1<<n - 1)) << w.nacc
	w.nacc += n
	for w.nacc >= 8 {
		w.buf = append(w.buf, byte(w.acc))
		w.acc >>= 8
		w.nacc -= 8
	}
}

// rice appends v with Rice parameter b: v>>b ones, a zero, then the low b bits.
func (w *bitWriter) rice(v uint64, b int) {
	for q := v >> b; q > 0; {
		n := min(q, 32)
		w.write(1<<n-1, int(n))
		q -= n
	}
	w.write(0, 1)
	w.write(v, b)
}

// gamma appends v ≥ 1 in Elias-gamma code: len−1 zeros, then v's bits from the top.
func (w *bitWriter) gamma(v uint64) {
	n := bits.Len64(v)
	w.write(0, n-1)
	for i := n - 1; i >= 0; i-- {
		w.write(v>>i&1, 1)
	}
}

// flush pads the last byte with zeros and returns the buffer.
func (w *bitWriter) flush() []byte {
	if w.nacc > 0 {
		w.buf = append(w.buf, byte(w.acc))
	}
	w.acc, w.nacc = 0, 0
	return w.buf
}

// bitReader reads what bitWriter wrote; reading past the end sets err.
type bitReader struct {
	buf []byte
	pos int // bit position
	err error
}

var errShort = errors.New("row runs past the end of the data")

func (r *bitReader) read(n int) uint64 {
	if r.err != nil {
		return 0
	}
	if r.pos+n > 8*len(r.buf) {
		r.err = errShort
		return 0
	}
	var v uint64
	for i := 0; i < n; {
		byteIdx, off := r.pos>>3, r.pos&7
		take := min(8-off, n-i)
		v |= uint64(r.buf[byteIdx]>>off&(1<<take-1)) << i
		i += take
		r.pos += take
	}
	return v
}

func (r *bitReader) rice(b int) uint64 {
	var q uint64
	for r.read(1) == 1 {
		q++
		if q > maxUnary {
			r.err = errors.New("Rice code too long")
			return 0
		}
	}
	return q<<b | r.read(b)
}

func (r *bitReader) gamma() uint64 {
	z := 0
	for r.err == nil && r.read(1) == 0 {
		z++
		if z > 32 {
			r.err = errors.New("gamma code too long")
			return 0
		}
	}
	v := uint64(1)
	for range z {
		v = v<<1 | r.read(1)
	}
	return v
}

func (r *bitReader) bytesRead() int { return (r.pos + 7) / 8 }
