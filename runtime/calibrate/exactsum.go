package calibrate

import (
	"math"
	"math/big"
	"math/bits"
)

// ExactSum is a sum of non-negative float64 terms kept exactly, in 256-bit fixed point whose
// lowest bit is 2^-128 (each term is truncated below that, identically whatever the order).
// Because integer addition is associative, sums taken over any partition of the terms and then
// added give the same bits as one sum over all of them: shards of a calibration run merge to
// exactly the result of one run. Sums of 2^128 or more saturate to +Inf.
type ExactSum [4]uint64

// exactFracBits is the number of fractional bits of an ExactSum.
const exactFracBits = 128

// saturated marks an overflowed sum.
var saturated = ExactSum{math.MaxUint64, math.MaxUint64, math.MaxUint64, math.MaxUint64}

// Add adds v, which must be non-negative and finite (a square); other values saturate the
// sum.
func (s *ExactSum) Add(v float64) {
	if v == 0 || *s == saturated {
		return
	}
	if !(v > 0) || math.IsInf(v, 1) {
		*s = saturated
		return
	}
	b := math.Float64bits(v)
	exp := int(b>>52) & 0x7ff
	mant := b & (1<<52 - 1)
	if exp == 0 {
		exp = 1 // subnormal
	} else {
		mant |= 1 << 52
	}
	shift := exp - 1075 + exactFracBits // v = mant · 2^(shift - exactFracBits)
	if shift < 0 {
		if shift <= -64 {
			return
		}
		mant >>= uint(-shift)
		shift = 0
	}
	if shift+53 > 256 {
		*s = saturated
		return
	}
	var add ExactSum
	w, off := shift/64, uint(shift%64)
	add[w] = mant << off
	if off > 0 && w+1 < 4 {
		add[w+1] = mant >> (64 - off)
	}
	s.AddSum(add)
}

// AddSum adds another exact sum.
func (s *ExactSum) AddSum(o ExactSum) {
	if *s == saturated || o == saturated {
		*s = saturated
		return
	}
	var carry uint64
	for i := range s {
		s[i], carry = bits.Add64(s[i], o[i], carry)
	}
	if carry != 0 {
		*s = saturated
	}
}

// Float64 returns the sum rounded to the nearest float64 (ties to even), +Inf when saturated.
func (s ExactSum) Float64() float64 {
	if s == saturated {
		return math.Inf(1)
	}
	words := make([]big.Word, 0, 4*64/bits.UintSize)
	for _, w := range s {
		if bits.UintSize == 64 {
			words = append(words, big.Word(w))
		} else {
			words = append(words, big.Word(uint32(w)), big.Word(w>>32))
		}
	}
	f := new(big.Float).SetInt(new(big.Int).SetBits(words))
	f.SetMantExp(f, -exactFracBits)
	v, _ := f.Float64()
	return v
}
