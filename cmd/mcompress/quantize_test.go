package main

import (
	"fmt"
	"strings"
	"testing"
)

func TestCondenseWarnings(t *testing.T) {
	for _, tc := range []struct{ in, want int }{{0, 0}, {3, 3}, {4, 4}, {5, 4}, {40, 4}} {
		var ws []string
		for i := range tc.in {
			ws = append(ws, fmt.Sprint("w", i))
		}
		got := condenseWarnings(ws, 3)
		if len(got) != tc.want {
			t.Errorf("%d warnings -> %d lines, want %d", tc.in, len(got), tc.want)
		}
		if tc.in > 4 && !strings.Contains(got[3], fmt.Sprintf("%d more", tc.in-3)) {
			t.Errorf("summary line %q", got[3])
		}
	}
}
