package tokenizer

import (
	"math/rand/v2"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// splitWith runs a compiled pattern over s the way the BPE pre-tokenizer does.
func splitWith(t testing.TB, pattern, s string) []string {
	t.Helper()
	re, err := compileRegex(pattern)
	if err != nil {
		t.Fatal(err)
	}
	cps := []rune(s)
	elems := widen(cps, nil)
	if re.collapsed {
		elems = collapse(cps, nil)
	}
	spans := re.split(&matcher{}, elems, []span{{0, len(cps)}}, nil)
	return spanStrings(cps, spans)
}

func spanStrings(cps []rune, spans []span) []string {
	var out []string
	for _, s := range spans {
		out = append(out, string(cps[s.start:s.end]))
	}
	return out
}

func TestRegexSplit(t *testing.T) {
	tests := []struct {
		pattern, in string
		want        []string
	}{
		// Ordered alternation: the first alternative that matches wins, not the longest.
		{`a|ab`, "abab", []string{"a", "b", "a", "b"}},
		{`ab|a`, "abab", []string{"ab", "ab"}},
		// Lookahead: \s+(?!\S) leaves the last space to the word that follows.
		{`\s+(?!\S)|\s+`, "a   b", []string{"a", "  ", " ", "b"}},
		{`\s+(?!\S)|\s+`, "a   ", []string{"a", "   "}},
		{`x(?=y)`, "xyxz", []string{"x", "yxz"}},
		// Greedy counted repetition and backtracking into it.
		{`\p{N}{1,3}`, "1234567", []string{"123", "456", "7"}},
		{`[0-9]{2,3}0`, "12340", []string{"1", "2340"}},
		{`a+ab`, "aaab", []string{"aaab"}},
		// $ matches at the end of the fragment only.
		{`\s+$`, "a  b  ", []string{"a  b", "  "}},
		// Collapsed categories: é is a letter, ٣ a number, the CJK ideographs letters.
		{` ?\p{L}+`, "café 東京", []string{"café", " 東京"}},
		{`\p{N}`, "a٣b", []string{"a", "٣", "b"}},
		{`[\p{P}\$\+<=>\^~\|]+`, "a+b...!c", []string{"a", "+", "b", "...!", "c"}},
		// Non-ASCII whitespace is \s (mapped to 0x0B first).
		{`\s+`, "a\u00a0\u3000b", []string{"a", "\u00a0\u3000", "b"}},
		// Wide mode: code point ranges.
		{"[\u4E00-\u9FA5]+", "ab東京cd", []string{"ab", "東京", "cd"}},
		// Empty matches split too (superbpe's digit grouping).
		{`(?=(\d{3})+(?!\d))`, "1234567", []string{"1", "234", "567"}},
		// Nested groups with lookahead (tekken-style letter runs).
		{`((?=[\p{L}])([^a-z]))+((?=[\p{L}])([^A-Z]))*`, "HELLOworld", []string{"HELLOworld"}},
		{`[^\r\n\p{L}\p{N}]?((?=[\p{L}])([^a-z]))*((?=[\p{L}])([^A-Z]))+`, "helloWorld", []string{"hello", "World"}},
	}
	for _, tc := range tests {
		got := splitWith(t, tc.pattern, tc.in)
		want := tc.want
		if len(want) == 0 {
			want = []string{tc.in}
		}
		if !slices.Equal(got, want) {
			t.Errorf("split(%q, %q) = %q, want %q", tc.pattern, tc.in, got, want)
		}
	}
}

func TestRegexCompileErrors(t *testing.T) {
	for _, p := range []string{`(`, `)`, `[a`, `a{3,2}`, `*`, `\p{Xx}`, `\p{L}é`, `(a*)*`, `(?<x>a)`, `\q`, `[z-a]`, `\`} {
		if _, err := compileRegex(p); err == nil {
			t.Errorf("compileRegex(%q): no error", p)
		}
	}
	// Every pattern of every pre-tokenizer compiles.
	for kind := range preTokenizers {
		if _, err := stepsFor(kind); err != nil {
			t.Error(err)
		}
	}
}

// goSplit splits s at the matches of Go's regexp (leftmost-first, like ECMAScript, for patterns
// without lookaround that cannot match empty).
func goSplit(re *regexp.Regexp, s string) []string {
	var out []string
	prev := 0
	for _, m := range re.FindAllStringIndex(s, -1) {
		if m[0] > prev {
			out = append(out, s[prev:m[0]])
		}
		out = append(out, s[m[0]:m[1]])
		prev = m[1]
	}
	if prev < len(s) {
		out = append(out, s[prev:])
	}
	return out
}

// randomText draws n code points from an alphabet mixing every class the splitters tell apart.
func randomText(r *rand.Rand, n int, alphabet []string) string {
	var b strings.Builder
	for range n {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

var splitAlphabet = []string{
	"a", "b", "Z", "é", "ß", "東", "京", "1", "2", "٣", "½", " ", " ", " ", "\t", "\n", "\r",
	"\u00a0", "\u3000", "'", "s", "t", "S", "T", "r", "e", "l", "L", "d", "m", "v", "V", ".", ",",
	"!", "$", "+", "😀", "\u0301", "\u200d", "-", "_", "/", "\x00", "\u0378",
}

// TestRegexAgainstGo checks the matcher against Go's regexp on patterns both support.
func TestRegexAgainstGo(t *testing.T) {
	patterns := []string{
		"[\r\n]", `[A-Za-z]+`, `\s?[A-Za-z]+`, ` ?[^\s.,!]+`, `[0-9][0-9][0-9]`, `\S+`,
		`(ab|a)(c|bcd)`, `x*y?z+`, `[^a-c]{2,3}`, `(?:'s|'t|'re)|[a-z]+|[0-9]{1,3}|\s+`,
		"[\u4E00-\u9FA5\u3000-\u303F]+|[^\\s]", `a(?:b|c)*d|\.`,
	}
	alphabet := []string{"a", "b", "c", "d", "x", "y", "z", "Q", "'", "s", "t", "r", "e", "1", "2", " ", "\t", "\n", "\r", ".", ",", "!", "東", "\u3001", "é"}
	r := rand.New(rand.NewPCG(1, 2))
	for _, p := range patterns {
		goRe := regexp.MustCompile(p)
		for range 300 {
			s := randomText(r, r.IntN(24), alphabet)
			got := splitWith(t, p, s)
			if want := goSplit(goRe, s); !slices.Equal(got, want) {
				t.Fatalf("split(%q, %q) = %q, Go regexp gives %q", p, s, got, want)
			}
		}
	}
}

// TestSplittersMatchPatterns checks each hand-written splitter against the regex it stands for,
// run on the matcher in collapsed mode: two independent implementations of the same pattern.
func TestSplittersMatchPatterns(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for _, pat := range []string{patGPT2, patLlama3, patQwen2, patQwen35, patNewlines} {
		custom := customSplitters[pat]
		for range 2000 {
			s := randomText(r, r.IntN(30), splitAlphabet)
			cps := []rune(s)
			want := splitWith(t, pat, s)
			got := spanStrings(cps, custom(cps, []span{{0, len(cps)}}, nil))
			if !slices.Equal(got, want) {
				t.Fatalf("pattern %q on %q:\n splitter %q\n regex    %q", pat, s, got, want)
			}
		}
	}
}

func TestSplitKimiK2(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"我们Hello世界", []string{"我们", "Hello", "世界"}},
		{"It's 12345", []string{"It's", " ", "123", "45"}},
		{" word\n\nx", []string{" word", "\n\n", "x"}},
	} {
		cps := []rune(tc.in)
		got := spanStrings(cps, splitKimiK2(cps, []span{{0, len(cps)}}, nil))
		if !slices.Equal(got, tc.want) {
			t.Errorf("splitKimiK2(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestSplitDigitGroups(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
	}{
		{"1234567", []string{"1", "234", "567"}},
		{"ab1234", []string{"ab1", "234"}}, // llama.cpp joins the text before a run to its first group
		{"12 x", []string{"12", " x"}},
	} {
		cps := []rune(tc.in)
		got := spanStrings(cps, splitDigitGroups(cps, []span{{0, len(cps)}}, nil))
		if !slices.Equal(got, tc.want) {
			t.Errorf("splitDigitGroups(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}

func TestDecodeCodepoints(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []rune
	}{
		{"aé東😀", []rune{'a', 'é', '東', '😀'}},
		{"\xff", []rune{0xFFFD}},
		{"\xc3", []rune{0xFFFD}},
		{"\xc3(", []rune{0xFFFD, '('}},
		{"\xed\xa0\x80", []rune{0xD800}}, // surrogates decode as written, as in llama.cpp
		{"\xc0\x80", []rune{0}},          // overlong too
		{"\xf7\xbf\xbf\xbf", []rune{0xFFFD}},
	} {
		got := decodeCodepoints(tc.in, nil)
		if !slices.Equal(got, tc.want) {
			t.Errorf("decodeCodepoints(%q) = %U, want %U", tc.in, got, tc.want)
		}
		var b []byte
		for _, c := range got {
			b = appendCodepoint(b, c)
		}
		if !strings.ContainsRune(tc.in, 0xFFFD) && !slices.Contains(got, 0xFFFD) && string(b) != tc.in {
			t.Errorf("appendCodepoint round trip of %q = %q", tc.in, b)
		}
	}
}

func TestByteMap(t *testing.T) {
	seen := map[rune]bool{}
	for b := 0; b < 256; b++ {
		r := byteToRune[b]
		if seen[r] || runeToByte[r] != byte(b) {
			t.Fatalf("byte %d maps to %U, not a bijection", b, r)
		}
		seen[r] = true
	}
	if byteToRune[' '] != 'Ġ' || byteToRune['\n'] != 'Ċ' || byteToRune['A'] != 'A' || byteToRune[0xA0] != 'ł' || byteToRune[0xAD] != 'Ń' {
		t.Fatal("GPT-2 byte map differs from the published table")
	}
}
