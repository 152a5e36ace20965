package codec

import "math"

// Grid exposes the parameters of a block type to quantizers that choose a block's scales once
// and then place each weight on the block's grid themselves, one weight at a time (GPTQ): the
// block is fitted when its first weight is reached, and every weight is then rounded to the
// nearest level of those fixed scales. The bytes a Grid writes are the type's standard layout,
// which DequantizeRow (and llama.cpp) decode unchanged.
type Grid interface {
	// BlockSize returns the number of weights per block.
	BlockSize() int
	// TypeSize returns the number of bytes per block.
	TypeSize() int
	// FitBlock chooses the scales (and mins) of one block for the weights x (BlockSize values)
	// with importance weights w (nil: the unweighted reference search) by the type's own
	// quantizer, and writes the block to dst with every weight at its nearest level.
	FitBlock(dst []byte, x, w []float32)
	// Snap rounds x to the level of weight i (0 ≤ i < BlockSize) nearest to it under the fixed
	// scales of block b, stores that level in b, and returns its value exactly as the
	// dequantizer decodes it.
	Snap(b []byte, i int, x float32) float32
}

// LookupGrid returns the Grid of type t, for the quantized types whose levels a Grid can
// place: Q4_0, Q4_1, Q5_0, Q5_1, Q8_0, Q2_K … Q6_K, IQ4_NL and IQ4_XS.
func LookupGrid[T ID](t T) (Grid, bool) {
	c, ok := codecs[uint32(t)]
	if !ok {
		return nil, false
	}
	lv, ok := c.(leveler)
	if !ok {
		return nil, false
	}
	return grid{c, lv}, true
}

// levels describes the levels weight i of a block may take: value(q) for q in [lo, hi] is
// a*table[q] when table is set, else float32(a*float32(q+off)) + c, the dequantizer's own
// arithmetic.
type levels struct {
	a, c   float32
	off    int32
	lo, hi int32
	table  *[16]float32
}

func (l levels) value(q int32) float32 {
	if l.table != nil {
		return l.a * l.table[q]
	}
	return float32(l.a*float32(q+l.off)) + l.c
}

// leveler is implemented by the codecs whose blocks a Grid can fill: levelsAt reads the grid
// of weight i from the block's stored scales, setLevel stores level q of weight i.
type leveler interface {
	levelsAt(b []byte, i int) levels
	setLevel(b []byte, i int, q int32)
}

type grid struct {
	c  Codec
	lv leveler
}

func (g grid) BlockSize() int { return g.c.BlockSize() }
func (g grid) TypeSize() int  { return g.c.TypeSize() }

func (g grid) FitBlock(dst []byte, x, w []float32) { g.c.QuantizeRow(dst, x, w) }

func (g grid) Snap(b []byte, i int, x float32) float32 {
	l := g.lv.levelsAt(b, i)
	q := l.nearest(x)
	g.lv.setLevel(b, i, q)
	return l.value(q)
}

// nearest returns the level whose value is nearest to x (the lowest of equals).
func (l levels) nearest(x float32) int32 {
	var q int32
	switch {
	case l.a == 0:
		return min(max(-l.off, l.lo), l.hi) // every level decodes alike; store the zero level
	case l.table != nil:
		q = int32(bestIndexInt8(&IQ4NLValues, x/l.a))
	default:
		f := float64(x-l.c)/float64(l.a) - float64(l.off)
		if math.IsNaN(f) {
			f = 0
		}
		q = int32(clampF(math.Round(f), float64(l.lo), float64(l.hi)))
	}
	// The division rounds; settle ties and neighbours with the exact decoded values.
	best, bestErr := q, abs32(x-l.value(q))
	for _, c := range [2]int32{q - 1, q + 1} {
		if c < l.lo || c > l.hi {
			continue
		}
		if e := abs32(x - l.value(c)); e < bestErr || (e == bestErr && c < best) {
			best, bestErr = c, e
		}
	}
	return best
}

func clampF(v, lo, hi float64) float64 { return math.Min(math.Max(v, lo), hi) }

// setNibble stores the 4-bit level q of weight j of a 32-weight block laid out as ggml's
// legacy types (weight j < 16 in the low nibble of byte j, weight j+16 in the high nibble).
func setNibble(qs []byte, j int, q int32) {
	if j < 16 {
		qs[j] = qs[j]&0xf0 | uint8(q)&0xf
	} else {
		qs[j-16] = qs[j-16]&0x0f | uint8(q)<<4
	}
}

// setBit5 stores bit 4 of level q of weight j in the little-endian qh word at b.
func setBit5(b []byte, j int, q int32) {
	byteI, bit := j/8, uint(j%8)
	b[byteI] = b[byteI]&^(1<<bit) | uint8(q>>4&1)<<bit
}

func (q8_0) levelsAt(b []byte, _ int) levels {
	return levels{a: halfAt(b), lo: -127, hi: 127}
}
func (q8_0) setLevel(b []byte, i int, q int32) { b[2+i] = byte(int8(q)) }

func (q4_0) levelsAt(b []byte, _ int) levels {
	return levels{a: halfAt(b), off: -8, lo: 0, hi: 15}
}
func (q4_0) setLevel(b []byte, i int, q int32) { setNibble(b[2:], i, q) }

func (q4_1) levelsAt(b []byte, _ int) levels {
	return levels{a: halfAt(b), c: halfAt(b[2:]), lo: 0, hi: 15}
}
func (q4_1) setLevel(b []byte, i int, q int32) { setNibble(b[4:], i, q) }

func (q5_0) levelsAt(b []byte, _ int) levels {
	return levels{a: halfAt(b), off: -16, lo: 0, hi: 31}
}
func (q5_0) setLevel(b []byte, i int, q int32) {
	setBit5(b[2:], i, q)
	setNibble(b[6:], i, q)
}

func (q5_1) levelsAt(b []byte, _ int) levels {
	return levels{a: halfAt(b), c: halfAt(b[2:]), lo: 0, hi: 31}
}
func (q5_1) setLevel(b []byte, i int, q int32) {
	setBit5(b[4:], i, q)
	setNibble(b[8:], i, q)
}

// kLevels is the grid of Q4_K and Q5_K weight i: d*sc*q - dmin*m.
func kLevels(b []byte, i int, hi int32) levels {
	s, m := ScaleMinK4(i/32, b[4:16])
	return levels{a: halfAt(b) * float32(s), c: -(halfAt(b[2:]) * float32(m)), lo: 0, hi: hi}
}

// setK4Nibble stores the low 4 bits of level q of weight i in the Q4_K/Q5_K nibble layout at qs
// (for each 64 weights, 32 bytes: weight l low nibble, weight l+32 high nibble).
func setK4Nibble(qs []byte, i int, q int32) {
	g, l := i/64, i%64
	p := &qs[32*g+l%32]
	if l < 32 {
		*p = *p&0xf0 | uint8(q)&0xf
	} else {
		*p = *p&0x0f | uint8(q)<<4
	}
}

func (q4K) levelsAt(b []byte, i int) levels   { return kLevels(b, i, 15) }
func (q4K) setLevel(b []byte, i int, q int32) { setK4Nibble(b[16:], i, q) }
func (q5K) levelsAt(b []byte, i int) levels   { return kLevels(b, i, 31) }
func (q5K) setLevel(b []byte, i int, q int32) {
	setK4Nibble(b[48:], i, q)
	g, l := i/64, i%64
	bit := uint(2 * g)
	if l >= 32 {
		bit++
	}
	p := &b[16+l%32]
	*p = *p&^(1<<bit) | uint8(q>>4&1)<<bit
}

func (q6K) levelsAt(b []byte, i int) levels {
	return levels{a: halfAt(b[208:]) * float32(int8(b[192+i/16])), off: -32, lo: 0, hi: 63}
}
func (q6K) setLevel(b []byte, i int, q int32) {
	n, r := i/128, i%128
	quarter, l := r/32, r%32
	p := &b[64*n+l+32*(quarter%2)]
	if quarter < 2 {
		*p = *p&0xf0 | uint8(q)&0xf
	} else {
		*p = *p&0x0f | uint8(q)<<4
	}
	h := &b[128+32*n+l]
	sh := uint(2 * quarter)
	*h = *h&^(3<<sh) | uint8(q>>4&3)<<sh
}

// set2Bits stores the 2-bit value v of weight i in the Q2_K/Q3_K layout at qs: byte 32*n+l
// holds weights 128*n+l+32*s at bits 2s.
func set2Bits(qs []byte, i int, v int32) {
	n, r := i/128, i%128
	s, l := r/32, r%32
	p := &qs[32*n+l]
	sh := uint(2 * s)
	*p = *p&^(3<<sh) | uint8(v&3)<<sh
}

func (q3K) levelsAt(b []byte, i int) levels {
	return levels{a: halfAt(b[108:]) * float32(Q3KScale(b[96:108], i/16)), off: -4, lo: 0, hi: 7}
}
func (q3K) setLevel(b []byte, i int, q int32) {
	set2Bits(b[32:96], i, q)
	p := &b[i%32]
	bit := uint(i / 32)
	*p = *p&^(1<<bit) | uint8(q>>2&1)<<bit
}

func (q2K) levelsAt(b []byte, i int) levels {
	sc := b[i/16]
	return levels{a: halfAt(b[80:]) * float32(sc&0xf), c: -(halfAt(b[82:]) * float32(sc>>4)), lo: 0, hi: 3}
}
func (q2K) setLevel(b []byte, i int, q int32) { set2Bits(b[16:80], i, q) }

func (iq4NL) levelsAt(b []byte, _ int) levels {
	return levels{a: halfAt(b), lo: 0, hi: 15, table: &iq4Float}
}
func (iq4NL) setLevel(b []byte, i int, q int32) { setNibble(b[2:], i, q) }

func (iq4XS) levelsAt(b []byte, i int) levels {
	return levels{a: halfAt(b) * float32(IQ4XSScale(b, i/32)), lo: 0, hi: 15, table: &iq4Float}
}
func (iq4XS) setLevel(b []byte, i int, q int32) { setNibble(b[8+16*(i/32):], i%32, q) }
