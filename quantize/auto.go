package quantize

import (
	"fmt"
	"regexp"
	"sort"

	"github.com/mcompress/mcompress/convert/gguf"
)

// AutoChoice is one type a tensor may take under Allocate, with its cost and its measured
// error.
type AutoChoice struct {
	Type gguf.TensorType
	// Bytes is the tensor's size in this type.
	Bytes int64
	// Error is the tensor's sensitivity at this type: for a matrix with calibration
	// statistics, its output error tr(ΔHΔᵀ) per calibration vector (OutputError / count).
	Error float64
}

// AutoTensor is a tensor whose type Allocate chooses among Choices.
type AutoTensor struct {
	Name    string
	Choices []AutoChoice
}

// Allocate chooses one type per tensor so that the tensors' bytes total at most budget while
// the summed error is small: every tensor starts at its smallest choice, and the upgrade with
// the largest error reduction per added byte (among each tensor's choices, the next point of
// the lower convex hull of error against bytes) is applied while it fits, ties broken by tensor
// order. It returns the chosen type by name and the bytes used; a budget below the smallest
// choices is an error.
func Allocate(tensors []AutoTensor, budget int64) (map[string]gguf.TensorType, int64, error) {
	hulls := make([][]AutoChoice, len(tensors))
	pos := make([]int, len(tensors))
	var used int64
	for i, t := range tensors {
		if len(t.Choices) == 0 {
			return nil, 0, invalidf("auto: tensor %s has no type to choose from", t.Name)
		}
		hulls[i] = lowerHull(t.Choices)
		used += hulls[i][0].Bytes
	}
	if used > budget {
		return nil, 0, invalidf("auto: the smallest types need %d bytes, more than the budget of %d", used, budget)
	}
	for {
		best, bestGain := -1, 0.0
		for i, h := range hulls {
			p := pos[i]
			if p+1 >= len(h) || used+h[p+1].Bytes-h[p].Bytes > budget {
				continue
			}
			gain := (h[p].Error - h[p+1].Error) / float64(h[p+1].Bytes-h[p].Bytes)
			if best < 0 || gain > bestGain {
				best, bestGain = i, gain
			}
		}
		if best < 0 {
			break
		}
		h := hulls[best]
		used += h[pos[best]+1].Bytes - h[pos[best]].Bytes
		pos[best]++
	}
	out := make(map[string]gguf.TensorType, len(tensors))
	for i, t := range tensors {
		out[t.Name] = hulls[i][pos[i]].Type
	}
	return out, used, nil
}

// lowerHull returns the choices on the lower convex hull of error against bytes, by increasing
// bytes (and so decreasing error): the only ones a greedy allocation by error per byte visits.
func lowerHull(cs []AutoChoice) []AutoChoice {
	s := append([]AutoChoice{}, cs...)
	sort.SliceStable(s, func(a, b int) bool {
		if s[a].Bytes != s[b].Bytes {
			return s[a].Bytes < s[b].Bytes
		}
		return s[a].Error < s[b].Error
	})
	var h []AutoChoice
	for _, c := range s {
		if len(h) > 0 && c.Error >= h[len(h)-1].Error {
			continue // bigger and no better
		}
		for len(h) >= 2 {
			a, b := h[len(h)-2], h[len(h)-1]
			// drop b when it lies on or above the segment from a to c
			if (b.Error-a.Error)*float64(c.Bytes-a.Bytes) >= (c.Error-a.Error)*float64(b.Bytes-a.Bytes) {
				h = h[:len(h)-1]
				continue
			}
			break
		}
		h = append(h, c)
	}
	return h
}

// AutoRules turns an allocation into --tensor-type rules (one exact-name rule per tensor, in
// name order), to be put before the user's own in Options.TensorTypes.
func AutoRules(types map[string]gguf.TensorType) []TensorTypeRule {
	names := make([]string, 0, len(types))
	for n := range types {
		names = append(names, n)
	}
	sort.Strings(names)
	rules := make([]TensorTypeRule, len(names))
	for i, n := range names {
		rules[i] = TensorTypeRule{Pattern: regexp.MustCompile("^" + regexp.QuoteMeta(n) + "$"), Type: types[n]}
	}
	return rules
}

// MeasureChoices quantizes the matrix w (rows of cols weights) at each of types with the
// importance weights im (nil: none) and returns each type's size and output error
// tr(ΔHΔᵀ)/count against the Gram matrix h summed over count vectors. Types whose block does
// not divide cols are left out.
func MeasureChoices(w []float32, cols int, h []float64, count int64, im []float32, types []gguf.TensorType) ([]AutoChoice, error) {
	var out []AutoChoice
	d := make([]float32, len(w))
	for _, t := range types {
		c, ok := Lookup(t)
		if !ok {
			return nil, invalidf("auto: no codec for %s", t)
		}
		if cols%c.BlockSize() != 0 {
			continue
		}
		b := make([]byte, len(w)/c.BlockSize()*c.TypeSize())
		if err := Quantize(t, b, w, cols, im); err != nil {
			return nil, fmt.Errorf("auto: %w", err)
		}
		if err := Dequantize(t, d, b); err != nil {
			return nil, fmt.Errorf("auto: %w", err)
		}
		out = append(out, AutoChoice{Type: t, Bytes: int64(len(b)), Error: OutputError(w, d, cols, h) / float64(max(count, 1))})
	}
	return out, nil
}
