package surgery

import (
	"fmt"
	"strconv"
	"strings"
)

// EvenLayers returns, for a model of n blocks made from one of from blocks, the old block of
// each new block: evenly spaced, first block first (every other block when n is half of from).
// With n > from some old blocks appear twice.
func EvenLayers(n, from int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i * from / n
	}
	return out
}

// KeepLayers returns the layer map that keeps every block of n but those in drop, in order.
// It fails when a dropped block is out of range or every block would go.
func KeepLayers(n int, drop []int) ([]int, error) {
	gone := make([]bool, n)
	for _, d := range drop {
		if d < 0 || d >= n {
			return nil, fmt.Errorf("surgery: block %d out of range (model has %d)", d, n)
		}
		gone[d] = true
	}
	var out []int
	for i, g := range gone {
		if !g {
			out = append(out, i)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("surgery: dropping %v leaves none of %d blocks", drop, n)
	}
	return out, nil
}

// CheckLayerMap reports whether lmap is a usable layer map into a model of from blocks: at
// least one entry, each a block of that model.
func CheckLayerMap(lmap []int, from int) error {
	if len(lmap) == 0 {
		return fmt.Errorf("surgery: empty layer map")
	}
	for i, l := range lmap {
		if l < 0 || l >= from {
			return fmt.Errorf("surgery: layer map entry %d is block %d, out of range (model has %d)", i, l, from)
		}
	}
	return nil
}

// SourceName maps the GGUF name of a new model's tensor to the old model's through the layer
// map: "blk.i.rest" becomes "blk.lmap[i].rest"; names outside blocks (token_embd.weight,
// output.weight) and blocks beyond the map are returned unchanged.
func SourceName(name string, lmap []int) string {
	rest, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return name
	}
	num, tail, ok := strings.Cut(rest, ".")
	if !ok {
		return name
	}
	l, err := strconv.Atoi(num)
	if err != nil || l < 0 || l >= len(lmap) {
		return name
	}
	return "blk." + strconv.Itoa(lmap[l]) + "." + tail
}
