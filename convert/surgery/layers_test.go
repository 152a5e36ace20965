package surgery

import (
	"reflect"
	"strings"
	"testing"
)

func TestEvenLayers(t *testing.T) {
	for _, c := range []struct {
		n, from int
		want    []int
	}{
		{2, 4, []int{0, 2}},
		{3, 12, []int{0, 4, 8}},
		{4, 4, []int{0, 1, 2, 3}},
		{4, 2, []int{0, 0, 1, 1}},
		{1, 22, []int{0}},
		{0, 4, []int{}},
	} {
		if got := EvenLayers(c.n, c.from); !reflect.DeepEqual(got, c.want) {
			t.Errorf("EvenLayers(%d, %d) = %v, want %v", c.n, c.from, got, c.want)
		}
	}
}

func TestKeepLayers(t *testing.T) {
	for _, c := range []struct {
		n    int
		drop []int
		want []int
		err  string
	}{
		{4, nil, []int{0, 1, 2, 3}, ""},
		{4, []int{2, 0}, []int{1, 3}, ""},
		{4, []int{1, 1}, []int{0, 2, 3}, ""},
		{4, []int{4}, nil, "block 4 out of range"},
		{2, []int{0, 1}, nil, "leaves none"},
	} {
		got, err := KeepLayers(c.n, c.drop)
		if c.err != "" {
			if err == nil || !strings.Contains(err.Error(), c.err) {
				t.Errorf("KeepLayers(%d, %v): error %v, want %q", c.n, c.drop, err, c.err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("KeepLayers(%d, %v) = %v, %v; want %v", c.n, c.drop, got, err, c.want)
		}
		if err := CheckLayerMap(got, c.n); err != nil {
			t.Errorf("CheckLayerMap(%v): %v", got, err)
		}
	}
}

func TestCheckLayerMap(t *testing.T) {
	for _, c := range []struct {
		lmap []int
		from int
		ok   bool
	}{
		{[]int{0, 2}, 4, true},
		{[]int{0, 0}, 1, true},
		{nil, 4, false},
		{[]int{0, 4}, 4, false},
		{[]int{-1}, 4, false},
	} {
		if err := CheckLayerMap(c.lmap, c.from); (err == nil) != c.ok {
			t.Errorf("CheckLayerMap(%v, %d) = %v", c.lmap, c.from, err)
		}
	}
}

func TestSourceName(t *testing.T) {
	lmap := []int{0, 2, 5}
	for name, want := range map[string]string{
		"blk.1.attn_q.weight":  "blk.2.attn_q.weight",
		"blk.2.ffn_up.weight":  "blk.5.ffn_up.weight",
		"blk.0.attn_q.bias":    "blk.0.attn_q.bias",
		"blk.3.attn_q.weight":  "blk.3.attn_q.weight", // beyond the map
		"blk.x.attn_q.weight":  "blk.x.attn_q.weight",
		"blk.-1.attn_q.weight": "blk.-1.attn_q.weight",
		"blk.1":                "blk.1",
		"token_embd.weight":    "token_embd.weight",
		"output.weight":        "output.weight",
	} {
		if got := SourceName(name, lmap); got != want {
			t.Errorf("SourceName(%q) = %q, want %q", name, got, want)
		}
	}
}
