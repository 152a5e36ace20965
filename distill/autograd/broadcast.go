package autograd

import "slices"

// bcast maps the elements of a broadcast result to the elements of its two operands.
type bcast struct {
	out    []int
	sa, sb []int // per output dimension: the operand's stride, 0 where it is broadcast
}

// newBcast prepares the mapping for operands of shapes a and b broadcast to out.
func newBcast(a, b, out []int) bcast {
	return bcast{out: out, sa: bcastStrides(a, out), sb: bcastStrides(b, out)}
}

func bcastStrides(s, out []int) []int {
	st := make([]int, len(out))
	stride := 1
	for i := len(out) - 1; i >= 0; i-- {
		j := len(s) - len(out) + i
		if j < 0 {
			continue
		}
		if s[j] != 1 || out[i] == 1 {
			st[i] = stride
		}
		stride *= s[j]
	}
	return st
}

// each calls fn once per row of the last output dimension, in order, with the offsets of the
// row's first element in the output, a and b, the row length and the strides along it.
func (bc bcast) each(fn func(o, ia, ib, n, inca, incb int)) {
	r := len(bc.out)
	if r == 0 {
		fn(0, 0, 0, 1, 0, 0)
		return
	}
	n := bc.out[r-1]
	rows := 1
	for _, d := range bc.out[:r-1] {
		rows *= d
	}
	if n == 0 || rows == 0 {
		return
	}
	idx := make([]int, r-1)
	ia, ib := 0, 0
	for row := 0; row < rows; row++ {
		fn(row*n, ia, ib, n, bc.sa[r-1], bc.sb[r-1])
		// Advance the odometer over the leading dimensions.
		for d := r - 2; d >= 0; d-- {
			idx[d]++
			ia += bc.sa[d]
			ib += bc.sb[d]
			if idx[d] < bc.out[d] {
				break
			}
			ia -= bc.sa[d] * idx[d]
			ib -= bc.sb[d] * idx[d]
			idx[d] = 0
		}
	}
}

// sameShape reports whether both operands already have the output's shape.
func sameShape(a, b, out []int) bool { return slices.Equal(a, out) && slices.Equal(b, out) }
