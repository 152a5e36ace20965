package prune

import (
	"cmp"
	"fmt"
	"math"
	"slices"
)

// KeepTop returns the indices of the keep largest scores in ascending index order, ties broken
// towards the lower index: the channels, heads or layers a structured prune keeps.
func KeepTop(score []float64, keep int) []int {
	idx := make([]int, len(score))
	for i := range idx {
		idx[i] = i
	}
	keep = min(max(keep, 0), len(score))
	slices.SortStableFunc(idx, func(a, b int) int { return cmp.Compare(score[b], score[a]) })
	out := idx[:keep]
	slices.Sort(out)
	return out
}

// HeadMode says how attention heads are removed from a model with grouped-query attention.
type HeadMode string

const (
	// HeadsPerGroup removes query heads evenly from every KV group, keeping all KV heads, so
	// each group keeps the same number of query heads.
	HeadsPerGroup HeadMode = "per-group"
	// HeadsWholeGroups removes whole KV groups: a KV head with all the query heads that share it.
	HeadsWholeGroups HeadMode = "groups"
)

// HeadPlan lists the query and KV heads a structured prune keeps, in ascending order.
type HeadPlan struct {
	Query, KV []int
}

// KeepHeads chooses the heads to keep from the importance of each query head (heads query
// heads in kvHeads groups of consecutive heads, as llama.cpp and transformers lay them out).
// keepHeads is the number of query heads to keep; it must leave a whole number of query heads
// in every group (per-group) or whole groups (groups). A group's importance is the sum of its
// heads'.
func KeepHeads(score []float64, kvHeads, keepHeads int, mode HeadMode) (HeadPlan, error) {
	heads := len(score)
	if kvHeads <= 0 || heads%kvHeads != 0 {
		return HeadPlan{}, fmt.Errorf("%w: %d query heads do not form %d KV groups", ErrBadInput, heads, kvHeads)
	}
	if keepHeads <= 0 || keepHeads > heads {
		return HeadPlan{}, fmt.Errorf("%w: cannot keep %d of %d attention heads", ErrBadInput, keepHeads, heads)
	}
	group := heads / kvHeads
	var p HeadPlan
	switch mode {
	case HeadsPerGroup, "":
		if keepHeads%kvHeads != 0 {
			return HeadPlan{}, fmt.Errorf("%w: keeping %d query heads does not leave the same number in each of %d KV groups (use a multiple of %d, or whole groups)", ErrBadInput, keepHeads, kvHeads, kvHeads)
		}
		per := keepHeads / kvHeads
		for g := range kvHeads {
			for _, h := range KeepTop(score[g*group:(g+1)*group], per) {
				p.Query = append(p.Query, g*group+h)
			}
			p.KV = append(p.KV, g)
		}
	case HeadsWholeGroups:
		if keepHeads%group != 0 {
			return HeadPlan{}, fmt.Errorf("%w: keeping %d query heads is not a whole number of KV groups of %d", ErrBadInput, keepHeads, group)
		}
		gs := make([]float64, kvHeads)
		for h, s := range score {
			gs[h/group] += s
		}
		for _, g := range KeepTop(gs, keepHeads/group) {
			p.KV = append(p.KV, g)
			for h := range group {
				p.Query = append(p.Query, g*group+h)
			}
		}
	default:
		return HeadPlan{}, fmt.Errorf("%w: head mode %q (want %s or %s)", ErrBadInput, mode, HeadsPerGroup, HeadsWholeGroups)
	}
	return p, nil
}

// BlockInfluence returns ShortGPT's block influence of one transformer block, the mean over
// tokens of 1 − cos(x_in, x_out) for the block's input and output hidden states (tokens ×
// hidden, row-major). A block that barely changes its input scores near 0 and is the first to
// drop.
func BlockInfluence(in, out []float32, hidden int) (float64, error) {
	if hidden <= 0 || len(in) != len(out) || len(in)%hidden != 0 || len(in) == 0 {
		return 0, fmt.Errorf("%w: block input and output of %d and %d values for hidden size %d", ErrBadInput, len(in), len(out), hidden)
	}
	tokens := len(in) / hidden
	sum := 0.0
	for t := range tokens {
		var dot, na, nb float64
		for i := t * hidden; i < (t+1)*hidden; i++ {
			a, b := float64(in[i]), float64(out[i])
			dot += a * b
			na += a * a
			nb += b * b
		}
		c := 0.0
		if na > 0 && nb > 0 {
			c = dot / math.Sqrt(na*nb)
		}
		sum += 1 - c
	}
	return sum / float64(tokens), nil
}

// DropLeastInfluential returns the n blocks with the lowest influence, in ascending order.
func DropLeastInfluential(influence []float64, n int) ([]int, error) {
	if n <= 0 || n >= len(influence) {
		return nil, fmt.Errorf("%w: cannot drop %d of %d layers", ErrBadInput, n, len(influence))
	}
	return lowest(influence, n), nil
}
