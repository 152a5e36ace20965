package surgery

import (
	"reflect"
	"strings"
	"testing"
)

func TestHeadRows(t *testing.T) {
	if got, want := HeadRows([]int{0, 2}, 3), []int{0, 1, 2, 6, 7, 8}; !reflect.DeepEqual(got, want) {
		t.Errorf("HeadRows = %v, want %v", got, want)
	}
	if got := HeadRows(nil, 3); len(got) != 0 {
		t.Errorf("HeadRows(nil) = %v", got)
	}
}

func TestKeepHeads(t *testing.T) {
	for _, c := range []struct {
		heads, kv int
		keep      []int
		want      []int
		err       string
	}{
		// 8 query heads in 4 groups of 2: {0,1} {2,3} {4,5} {6,7}.
		{8, 4, []int{0, 2, 4, 6}, []int{0, 1, 2, 3}, ""},
		{8, 4, []int{2, 3, 6, 7}, []int{1, 3}, ""},
		{8, 4, []int{5}, []int{2}, ""},
		{8, 8, []int{1, 6}, []int{1, 6}, ""}, // no grouping
		{8, 1, []int{0, 3, 7}, []int{0}, ""}, // multi-query
		{8, 4, []int{0, 1, 2}, nil, "unequal groups"},
		{8, 4, []int{2, 0}, nil, "not ascending"},
		{8, 4, []int{1, 1}, nil, "not ascending"},
		{8, 4, []int{8}, nil, "head 8 out of range"},
		{8, 4, nil, nil, "no heads"},
		{8, 3, []int{0}, nil, "cannot share"},
	} {
		got, err := KeepHeads(c.heads, c.kv, c.keep)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("KeepHeads(%d, %d, %v): error %v, want %q", c.heads, c.kv, c.keep, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("KeepHeads(%d, %d, %v) = %v, %v; want %v", c.heads, c.kv, c.keep, got, err, c.want)
		}
	}
}
