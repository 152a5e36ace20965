package prune

import (
	"errors"
	"math"
	"reflect"
	"testing"
)

func TestKeepTop(t *testing.T) {
	for _, tc := range []struct {
		score []float64
		keep  int
		want  []int
	}{
		{[]float64{3, 1, 2, 5}, 2, []int{0, 3}},
		{[]float64{1, 1, 1, 1}, 2, []int{0, 1}},
		{[]float64{1, 2}, 5, []int{0, 1}},
		{[]float64{1, 2}, 0, []int{}},
	} {
		if got := KeepTop(tc.score, tc.keep); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("KeepTop(%v, %d) = %v, want %v", tc.score, tc.keep, got, tc.want)
		}
	}
}

func TestKeepHeads(t *testing.T) {
	// Eight query heads in four KV groups of two.
	score := []float64{1, 9, 8, 2, 0.1, 0.2, 5, 6}
	p, err := KeepHeads(score, 4, 4, HeadsPerGroup)
	if err != nil {
		t.Fatal(err)
	}
	if want := (HeadPlan{Query: []int{1, 2, 5, 7}, KV: []int{0, 1, 2, 3}}); !reflect.DeepEqual(p, want) {
		t.Errorf("per-group: %+v, want %+v", p, want)
	}
	p, err = KeepHeads(score, 4, 4, HeadsWholeGroups)
	if err != nil {
		t.Fatal(err)
	}
	if want := (HeadPlan{Query: []int{0, 1, 6, 7}, KV: []int{0, 3}}); !reflect.DeepEqual(p, want) {
		t.Errorf("groups: %+v, want %+v", p, want)
	}
	for _, tc := range []struct {
		kv, keep int
		mode     HeadMode
	}{
		{4, 3, HeadsPerGroup}, {4, 3, HeadsWholeGroups}, {3, 4, HeadsPerGroup}, {4, 0, HeadsPerGroup}, {4, 9, HeadsPerGroup}, {4, 4, "odd"},
	} {
		if _, err := KeepHeads(score, tc.kv, tc.keep, tc.mode); !errors.Is(err, ErrBadInput) {
			t.Errorf("KeepHeads(kv %d, keep %d, %s): got %v, want a bad-input error", tc.kv, tc.keep, tc.mode, err)
		}
	}
}

func TestBlockInfluence(t *testing.T) {
	in := []float32{1, 0, 0, 1}
	got, err := BlockInfluence(in, []float32{2, 0, 0, 3}, 2)
	if err != nil || got != 0 {
		t.Errorf("a block that scales its input: influence %g, %v; want 0", got, err)
	}
	got, _ = BlockInfluence(in, []float32{0, 1, 1, 0}, 2)
	if math.Abs(got-1) > 1e-12 {
		t.Errorf("a block whose output is orthogonal to its input: influence %g, want 1", got)
	}
	if _, err := BlockInfluence(in, in[:2], 2); !errors.Is(err, ErrBadInput) {
		t.Errorf("mismatched lengths: %v", err)
	}
	drop, err := DropLeastInfluential([]float64{0.5, 0.1, 0.3, 0.05}, 2)
	if err != nil || !reflect.DeepEqual(drop, []int{1, 3}) {
		t.Errorf("DropLeastInfluential = %v, %v; want [1 3]", drop, err)
	}
	if _, err := DropLeastInfluential([]float64{1, 2}, 2); !errors.Is(err, ErrBadInput) {
		t.Errorf("dropping every layer: %v", err)
	}
}
