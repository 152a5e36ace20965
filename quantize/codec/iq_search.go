package codec

import (
	"math"
	"sync"
)

// iqLattice is what the IQ quantizers search on one grid, as ggml's iq2xs_init_impl and
// iq3xs_init_impl build it: the grid points as odd integers 2l+1, a map from every packed level
// vector u (coordinate i at bits bits*i) to its grid index (or -1), and for each u off the grid
// its nearest grid points: all points at the nwant smallest squared distances, ordered by
// distance and then index.
type iqLattice struct {
	width, bits int
	pos         []int8     // pos[j*width+i]: coordinate i of grid point j, 2*level+1
	index       []int32    // packed levels -> grid index, or -1
	neighbours  [][]uint16 // packed levels off the grid -> nearest grid points
}

// newIQLattice builds the lattice of a grid index list. Only level vectors with every level
// at most maxLevel get neighbours: the quantizers clamp their levels to that range.
func newIQLattice(points []uint16, width, bits, maxLevel, nwant int) *iqLattice {
	size := 1 << (bits * width)
	mask := 1<<bits - 1
	l := &iqLattice{width: width, bits: bits, pos: make([]int8, len(points)*width),
		index: make([]int32, size), neighbours: make([][]uint16, size)}
	for u := range l.index {
		l.index[u] = -1
	}
	for j, p := range points {
		l.index[p] = int32(j)
		for i := 0; i < width; i++ {
			l.pos[j*width+i] = int8(2*(int(p)>>(bits*i)&mask) + 1)
		}
	}
	d2 := make([]int32, len(points))
	var posU [8]int32
outer:
	for u := 0; u < size; u++ {
		if l.index[u] >= 0 {
			continue
		}
		for i := 0; i < width; i++ {
			lv := u >> (bits * i) & mask
			if lv > maxLevel {
				continue outer
			}
			posU[i] = int32(2*lv + 1)
		}
		for j := range points {
			var s int32
			for i := 0; i < width; i++ {
				d := int32(l.pos[j*width+i]) - posU[i]
				s += d * d
			}
			d2[j] = s
		}
		// The nwant smallest distinct distances, then the points at each in index order.
		var dist []int32
		for len(dist) < nwant {
			next := int32(math.MaxInt32)
			for _, v := range d2 {
				if v < next && (len(dist) == 0 || v > dist[len(dist)-1]) {
					next = v
				}
			}
			if next == math.MaxInt32 {
				break
			}
			dist = append(dist, next)
		}
		var nb []uint16
		for _, dv := range dist {
			for j, v := range d2 {
				if v == dv {
					nb = append(nb, uint16(j))
				}
			}
		}
		l.neighbours[u] = nb
	}
	return l
}

// bestNeighbour is ggml's iq2/iq3_find_best_neighbour: among the neighbours of the off-grid
// level vector u, the grid point minimising the weighted squared error of scale*point against
// xval (the first on ties). It stores the point's levels in L and returns its index.
func (l *iqLattice) bestNeighbour(u int, xval, weight []float32, scale float32, L []int8) int {
	w := l.width
	best := float32(math.MaxFloat32)
	gi := -1
	for _, j := range l.neighbours[u] {
		pg := l.pos[int(j)*w : int(j)*w+w]
		var d2 float32
		for i, q := range pg {
			diff := float32(scale*float32(q)) - xval[i]
			d2 += float32(float32(weight[i]*diff) * diff)
		}
		if d2 < best {
			best, gi = d2, int(j)
		}
	}
	if gi < 0 {
		panic("codec: no grid neighbour improves on infinity (non-finite input?)")
	}
	for i, q := range l.pos[gi*w : gi*w+w] {
		L[i] = (q - 1) / 2
	}
	return gi
}

// pack returns the packed level vector of L (width levels).
func (l *iqLattice) pack(L []int8) int {
	u := 0
	for i := 0; i < l.width; i++ {
		u |= int(L[i]) << (l.bits * i)
	}
	return u
}

// The lattices, built on first use.
var (
	iq2XXSLattice = sync.OnceValue(func() *iqLattice { return newIQLattice(iq2xxsIndex[:], 8, 2, 2, 2) })
	iq2XSLattice  = sync.OnceValue(func() *iqLattice { return newIQLattice(iq2xsIndex[:], 8, 2, 2, 2) })
	iq2SLattice   = sync.OnceValue(func() *iqLattice { return newIQLattice(iq2sIndex[:], 8, 2, 2, 1) })
	iq1Lattice    = sync.OnceValue(func() *iqLattice { return newIQLattice(iq1sIndex[:], 8, 2, 2, 3) })
	iq3XXSLattice = sync.OnceValue(func() *iqLattice { return newIQLattice(iq3xxsIndex[:], 4, 3, 7, 2) })
	iq3SLattice   = sync.OnceValue(func() *iqLattice { return newIQLattice(iq3sIndex[:], 4, 3, 7, 3) })
)
