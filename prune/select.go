package prune

import (
	"cmp"
	"slices"
)

// lowest returns the indices of the k smallest scores, ties broken by the lower index, in
// ascending index order.
func lowest(score []float64, k int) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	if k >= len(score) {
		return idx
	}
	slices.SortFunc(idx, func(a, b int) int {
		if c := cmp.Compare(score[a], score[b]); c != 0 {
			return c
		}
		return cmp.Compare(a, b)
	})
	out := idx[:k]
	slices.Sort(out)
	return out
}

// maskByScore returns a mask (true = remove) over a row of scores: the lowest
// removeCount(len, s) of the row, or with a pattern the lowest M−N of every group of M.
func maskByScore(score []float64, o Options) []bool {
	mask := make([]bool, len(score))
	if !o.Pattern.IsZero() {
		m, drop := o.Pattern.M, o.Pattern.M-o.Pattern.N
		for g := 0; g < len(score); g += m {
			for _, i := range lowest(score[g:g+m], drop) {
				mask[g+i] = true
			}
		}
		return mask
	}
	for _, i := range lowest(score, removeCount(len(score), o.Sparsity)) {
		mask[i] = true
	}
	return mask
}
