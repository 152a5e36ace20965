package datasets

import (
	"fmt"
	"math"
	"math/bits"
)

// rng is SplitMix64: a tiny, fast generator whose sequence is fixed by its seed, on every
// platform and Go release (math/rand makes no such promise across releases).
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	return mix64(r.s)
}

// mix64 is SplitMix64's output function, a bijective 64-bit mixer.
func mix64(z uint64) uint64 {
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}

// below returns a uniform integer in [0, n) (Lemire's multiply-and-reject), n > 0.
func (r *rng) below(n uint64) uint64 {
	hi, lo := bits.Mul64(r.next(), n)
	if lo < n {
		t := -n % n
		for lo < t {
			hi, lo = bits.Mul64(r.next(), n)
		}
	}
	return hi
}

// Permutation returns a permutation of 0..n-1 determined by seed alone (Fisher–Yates over
// SplitMix64). The same n and seed give the same permutation on every machine, whatever the
// number of threads.
func Permutation(n int, seed uint64) []int {
	p := make([]int, max(n, 0))
	for i := range p {
		p[i] = i
	}
	Shuffle(p, seed)
	return p
}

// Shuffle permutes s in place, deterministically for a given seed and length.
func Shuffle[T any](s []T, seed uint64) {
	r := rng{s: seed}
	for i := len(s) - 1; i > 0; i-- {
		j := int(r.below(uint64(i) + 1))
		s[i], s[j] = s[j], s[i]
	}
}

// ValidationCount is the number of items SplitValidation puts in the validation part:
// fraction × n rounded to nearest, but at least 1 when fraction > 0 and n ≥ 2, and at most
// n − 1 when fraction < 1 (so that training keeps at least one item).
func ValidationCount(n int, fraction float64) int {
	if n <= 0 || fraction <= 0 {
		return 0
	}
	k := int(math.Round(fraction * float64(n)))
	if n >= 2 {
		k = max(k, 1)
	}
	if fraction < 1 {
		k = min(k, n-1)
	}
	return min(k, n)
}

// SplitValidation divides items into a training and a validation part. Which items go to
// validation is decided by a seeded permutation ([Permutation]); both parts keep the items'
// original relative order (shuffle them separately if needed). fraction must be in [0, 1];
// the validation size is [ValidationCount]. The results are new slices; items is unchanged.
func SplitValidation[T any](items []T, fraction float64, seed uint64) (train, val []T, err error) {
	if math.IsNaN(fraction) || fraction < 0 || fraction > 1 {
		return nil, nil, fmt.Errorf("datasets: validation fraction %v outside [0, 1]", fraction)
	}
	k := ValidationCount(len(items), fraction)
	inVal := make([]bool, len(items))
	for _, i := range Permutation(len(items), seed)[:k] {
		inVal[i] = true
	}
	train = make([]T, 0, len(items)-k)
	val = make([]T, 0, k)
	for i, it := range items {
		if inVal[i] {
			val = append(val, it)
		} else {
			train = append(train, it)
		}
	}
	return train, val, nil
}

// InValidation decides, for streams too large to hold, whether the item with this index goes
// to validation: true for about fraction of all indices, decided by a hash of (seed, index)
// alone, so any reader of the stream, in any order or thread, agrees.
func InValidation(index uint64, fraction float64, seed uint64) bool {
	if fraction <= 0 {
		return false
	}
	if fraction >= 1 {
		return true
	}
	h := mix64(mix64(seed^0x5851f42d4c957f2d) + index)
	return float64(h>>11)/(1<<53) < fraction
}
