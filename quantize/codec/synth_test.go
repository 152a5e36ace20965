package codec

// rng is a small deterministic generator (splitmix64) so that synthetic test data are the same
// on every platform and Go version.
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

// synthCase is a matrix of test weights with an optional importance matrix.
type synthCase struct {
	name    string
	rows    int
	cols    int
	x       []float32
	imatrix []float32
}

// synthCases returns the deterministic synthetic matrices used by the reference-digest and
// round-trip tests: weight-like Gaussian rows, heavy outliers, and adversarial rows (zeros,
// constants, a single spike, denormals, alternating signs, tiny and huge magnitudes).
func synthCases() []synthCase {
	var cases []synthCase
	r := &rng{s: 1}
	gauss := func(rows, cols int, sigma float32) []float32 {
		x := make([]float32, rows*cols)
		for i := range x {
			x[i] = sigma * r.normal()
		}
		return x
	}
	imat := func(cols int) []float32 {
		w := make([]float32, cols)
		for i := range w {
			u := r.uniform()
			w[i] = u * u * 10 // skewed, some near zero
			if i%37 == 5 {
				w[i] = 0
			}
		}
		return w
	}
	cases = append(cases, synthCase{name: "gauss", rows: 6, cols: 512, x: gauss(6, 512, 0.02)})
	o := gauss(4, 768, 0.05)
	for i := range o {
		if r.next()%97 == 0 {
			o[i] *= 40
		}
	}
	cases = append(cases, synthCase{name: "outliers", rows: 4, cols: 768, x: o})

	const cols = 256
	adv := make([]float32, 0, 10*cols)
	row := func(f func(i int) float32) {
		for i := 0; i < cols; i++ {
			adv = append(adv, f(i))
		}
	}
	row(func(int) float32 { return 0 })    // all zeros
	row(func(int) float32 { return 0.75 }) // constant
	row(func(int) float32 { return -3.5 }) // negative constant
	row(func(i int) float32 {              // one spike
		if i == 77 {
			return 1000
		}
		return 0
	})
	row(func(i int) float32 { return float32(i%7-3) * 1e-41 })   // denormals
	row(func(i int) float32 { return float32(1-2*(i%2)) * 0.5 }) // alternating signs
	row(func(i int) float32 { return 1e-6 * r.normal() })        // tiny
	row(func(i int) float32 { return 3e3 * r.normal() })         // large (fits F16 scales)
	row(func(i int) float32 {                                    // sparse
		if i%16 == 3 {
			return r.normal()
		}
		return 0
	})
	row(func(i int) float32 { // one huge outlier among small values
		if i == 200 {
			return 60000
		}
		return 0.01 * r.normal()
	})
	cases = append(cases, synthCase{name: "adversarial", rows: 10, cols: cols, x: adv})

	n := len(cases)
	for i := 0; i < n; i++ {
		c := cases[i]
		c.name += "+imatrix"
		c.imatrix = imat(c.cols)
		cases = append(cases, c)
	}
	return cases
}
