package quantize

import (
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestAllocate checks the greedy allocation on hand-made choices: it spends the budget where
// the error falls fastest per byte, skips choices above the convex hull, and rejects budgets
// below the smallest types.
func TestAllocate(t *testing.T) {
	q2, q3, q4, q6 := gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ6_K
	tensors := []AutoTensor{
		{"a", []AutoChoice{{q2, 10, 100}, {q3, 20, 40}, {q4, 30, 35}, {q6, 40, 1}}},
		{"b", []AutoChoice{{q2, 10, 10}, {q3, 20, 5}, {q4, 30, 4}}},
	}
	tests := []struct {
		budget int64
		want   map[string]gguf.TensorType
		used   int64
	}{
		{20, map[string]gguf.TensorType{"a": q2, "b": q2}, 20},
		{30, map[string]gguf.TensorType{"a": q3, "b": q2}, 30},
		// a's Q4_K lies above the hull from Q3_K to Q6_K (gain 5 vs 39 per 20 bytes)
		{50, map[string]gguf.TensorType{"a": q6, "b": q2}, 50},
		{60, map[string]gguf.TensorType{"a": q6, "b": q3}, 60},
		{100, map[string]gguf.TensorType{"a": q6, "b": q4}, 70},
	}
	for _, tc := range tests {
		got, used, err := Allocate(tensors, tc.budget)
		if err != nil {
			t.Fatal(err)
		}
		if used != tc.used || got["a"] != tc.want["a"] || got["b"] != tc.want["b"] {
			t.Errorf("budget %d: got %v (%d bytes), want %v (%d)", tc.budget, got, used, tc.want, tc.used)
		}
	}
	if _, _, err := Allocate(tensors, 19); err == nil {
		t.Error("a budget below the smallest types was accepted")
	}
}

// TestMeasureChoices checks that errors fall as types get bigger on a random layer.
func TestMeasureChoices(t *testing.T) {
	w, h := gptqLayer(8, 256, 300, 9)
	cs, err := MeasureChoices(w, 256, h, 300, nil, []gguf.TensorType{gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ6_K, gguf.TypeQ8_0})
	if err != nil {
		t.Fatal(err)
	}
	for i := 1; i < len(cs); i++ {
		if cs[i].Error >= cs[i-1].Error || cs[i].Bytes <= cs[i-1].Bytes {
			t.Errorf("%s (%d bytes, error %g) is not better than %s (%d bytes, error %g)", cs[i].Type, cs[i].Bytes, cs[i].Error, cs[i-1].Type, cs[i-1].Bytes, cs[i-1].Error)
		}
	}
}
