package quantize

// rng is a small deterministic generator (splitmix64) so that synthetic test data are the same
// on every platform and Go version; quantize/codec's tests use the same one for their
// reference digests.
type rng struct{ s uint64 }

func (r *rng) next() uint64 {
	r.s += 0x9e3779b97f4a7c15
	z := r.s
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// uniform returns a float32 in [0, 1).
func (r *rng) uniform() float32 { return float32(r.next()>>40) / (1 << 24) }

// normal returns an approximately standard normal value (Irwin-Hall sum of 12 uniforms), using
// only additions so that it is bit-identical everywhere.
func (r *rng) normal() float32 {
	var s float32
	for i := 0; i < 12; i++ {
		s += r.uniform()
	}
	return s - 6
}
