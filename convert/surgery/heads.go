package surgery

import "fmt"

// HeadRows returns the rows (or columns) of the heads listed in heads, each headDim wide, in
// order: the indices SliceRows takes for attn_q/attn_k/attn_v and their biases, and SliceCols
// for attn_output.
func HeadRows(heads []int, headDim int) []int {
	out := make([]int, 0, len(heads)*headDim)
	for _, h := range heads {
		for i := range headDim {
			out = append(out, h*headDim+i)
		}
	}
	return out
}

// KeepHeads checks a choice of query heads to keep in a model with heads query heads sharing
// kvHeads key/value heads (grouped-query attention: query head h reads KV head
// h/(heads/kvHeads)) and returns the KV heads to keep. keep must be ascending, and every KV head
// it touches must keep the same number of query heads, so the smaller model has regular groups
// again; the new configuration has len(keep) heads and len(kv) KV heads.
func KeepHeads(heads, kvHeads int, keep []int) (kv []int, err error) {
	if heads <= 0 || kvHeads <= 0 || heads%kvHeads != 0 {
		return nil, fmt.Errorf("surgery: %d heads cannot share %d KV heads", heads, kvHeads)
	}
	if len(keep) == 0 {
		return nil, fmt.Errorf("surgery: no heads kept")
	}
	group := heads / kvHeads
	count := map[int]int{}
	for i, h := range keep {
		if h < 0 || h >= heads {
			return nil, fmt.Errorf("surgery: head %d out of range (%d)", h, heads)
		}
		if i > 0 && h <= keep[i-1] {
			return nil, fmt.Errorf("surgery: kept heads %v are not ascending", keep)
		}
		g := h / group
		if count[g] == 0 {
			kv = append(kv, g)
		}
		count[g]++
	}
	for _, g := range kv {
		if count[g] != len(keep)/len(kv) || len(keep)%len(kv) != 0 {
			return nil, fmt.Errorf("surgery: kept heads %v leave KV heads %v with unequal groups (KV head %d keeps %d)", keep, kv, g, count[g])
		}
	}
	return kv, nil
}
