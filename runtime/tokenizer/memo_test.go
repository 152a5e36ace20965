package tokenizer

import (
	"math/rand/v2"
	"slices"
	"sort"
	"strings"
	"testing"
)

// allPatternRegexes returns every pre-tokenizer pattern that runs on the matcher.
func allPatternRegexes(t *testing.T) map[string]*compiledRegex {
	t.Helper()
	out := map[string]*compiledRegex{}
	for _, pats := range preTokenizers {
		for _, p := range pats {
			if _, custom := customSplitters[p]; custom {
				continue
			}
			re, err := compileRegex(p)
			if err != nil {
				t.Fatal(err)
			}
			out[p] = re
		}
	}
	return out
}

func runSplit(re *compiledRegex, m *matcher, s string) []span {
	cps := []rune(s)
	elems := widen(cps, nil)
	if re.collapsed {
		elems = collapse(cps, nil)
	}
	return re.split(m, elems, []span{{0, len(cps)}}, nil)
}

// TestMatcherMemo checks that the memo (what earlier attempts learned) never changes a split.
func TestMatcherMemo(t *testing.T) {
	r := rand.New(rand.NewPCG(9, 10))
	units := append([]string{"   ", "\n\n", "AAA", "aaa", "123", "....", "東東"}, splitAlphabet...)
	for p, re := range allPatternRegexes(t) {
		for range 300 {
			var b strings.Builder
			for range r.IntN(12) {
				b.WriteString(units[r.IntN(len(units))])
			}
			s := b.String()
			got := runSplit(re, &matcher{}, s)
			want := runSplit(re, &matcher{plain: true}, s)
			if !slices.Equal(got, want) {
				t.Fatalf("pattern %q on %q: with memo %v, without %v", p, s, got, want)
			}
		}
	}
}

// TestMatcherLinear checks that splitting long runs costs work linear in their length, counted
// in matcher steps (not time): 8 times the input may cost at most 12 times the steps.
func TestMatcherLinear(t *testing.T) {
	units := []string{" ", " \t", "\u00a0", "A", "a", "Ab", "a\u0301", "1", "12 ", ".", "東", "\n", " \n", "'", "x ", "!?"}
	var failed []string
	for p, re := range allPatternRegexes(t) {
		for _, u := range units {
			for _, tail := range []string{"", "x", "1", "\n"} {
				var steps [2]int
				for i, n := range []int{500, 4000} {
					m := &matcher{}
					runSplit(re, m, strings.Repeat(u, n)+tail)
					steps[i] = m.steps
				}
				if steps[1] > 12*steps[0]+1000 {
					failed = append(failed, p+" on "+strings.TrimSpace(strings.Repeat(u, 3))+tail)
				}
			}
		}
	}
	sort.Strings(failed)
	// superbpe's lookahead (?=(\d{3})+(?!\d)) rescans the rest of a digit run at every digit, as
	// llama.cpp's std::regex does; everything else must be linear.
	allowed := func(f string) bool { return strings.HasPrefix(f, `(?=(\d{3})+(?!\d))`) }
	for _, f := range failed {
		if !allowed(f) {
			t.Errorf("superlinear: %q", f)
		}
	}
}
