package main

import (
	"encoding/json"
	"strings"
	"testing"
)

// stream builds go test -json lines from (action, package, test, output) tuples.
func stream(t *testing.T, evs ...[4]string) string {
	t.Helper()
	var b strings.Builder
	for _, e := range evs {
		line, err := json.Marshal(map[string]string{"Action": e[0], "Package": e[1], "Test": e[2], "Output": e[3]})
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	return b.String()
}

func TestSummarize(t *testing.T) {
	const p = "example.com/m/p"
	for _, tc := range []struct {
		name                    string
		in                      string
		noFixtures              string
		passed, failed, skipped int
		show                    []string // lines the output must hold, in order
		hide                    []string // lines it must not
	}{
		{"pass and skip", stream(t,
			[4]string{"run", p, "TestA", ""},
			[4]string{"output", p, "TestA", "=== RUN   TestA\n"},
			[4]string{"pass", p, "TestA", ""},
			[4]string{"output", p, "TestB", "    b_test.go:12: reference fixtures not found at /w/shared (they sit at ../shared beside the repository root)\n"},
			[4]string{"output", p, "TestB", "--- SKIP: TestB (0.00s)\n"},
			[4]string{"skip", p, "TestB", ""},
			[4]string{"output", p, "TestC", "    c_test.go:9: fixture /w/shared/x.gguf not present: stat /w/shared/x.gguf: no such file\n"},
			[4]string{"skip", p, "TestC", ""},
			[4]string{"output", p, "TestD", "    c_test.go:30: fixture /w/shared/y.gguf not present: stat /w/shared/y.gguf: no such file\n"},
			[4]string{"skip", p, "TestD", ""},
			[4]string{"output", p, "", "PASS\n"},
			[4]string{"output", p, "", "ok  \texample.com/m/p\t0.01s\n"},
			[4]string{"pass", p, "", ""},
		), "", 1, 0, 3, []string{
			"ok  \texample.com/m/p\t0.01s",
			"2 skipped: fixture … not present: stat …: no such file",
			"1 skipped: reference fixtures not found at … (they sit at ../shared beside the repository root)",
			"1 passed, 0 failed, 3 skipped",
		}, []string{"PASS", "=== RUN   TestA"}},
		{"without ../shared its skips are one reason", stream(t,
			[4]string{"output", p, "TestB", "    b_test.go:12: reference fixtures not found at /w/shared (they sit at ../shared beside the repository root)\n"},
			[4]string{"skip", p, "TestB", ""},
			[4]string{"output", p, "TestC", "    c_test.go:9: shakespeare-llama fixture absent: stat /w/shared/f: no such file\n"},
			[4]string{"skip", p, "TestC", ""},
			[4]string{"output", p, "TestD", "    d_test.go:9: ../shared (reference fixtures) not present: stat /w/shared/g: no such file\n"},
			[4]string{"skip", p, "TestD", ""},
			[4]string{"output", p, "TestE", "    e_test.go:9: heavy\n"},
			[4]string{"skip", p, "TestE", ""},
		), "reference fixtures not found at /w/shared", 0, 0, 4, []string{
			"3 skipped: reference fixtures not found at /w/shared",
			"1 skipped: heavy",
			"0 passed, 0 failed, 4 skipped",
		}, nil},
		{"failure output shown, subtests counted", stream(t,
			[4]string{"output", p, "TestT", "=== RUN   TestT\n"},
			[4]string{"output", p, "TestT/one", "=== RUN   TestT/one\n"},
			[4]string{"pass", p, "TestT/one", ""},
			[4]string{"output", p, "TestT/two", "    t_test.go:5: got 2, want 3\n"},
			[4]string{"output", p, "TestT/two", "    --- FAIL: TestT/two (0.00s)\n"},
			[4]string{"fail", p, "TestT/two", ""},
			[4]string{"output", p, "TestT", "--- FAIL: TestT (0.00s)\n"},
			[4]string{"fail", p, "TestT", ""},
			[4]string{"output", p, "TestT-x", "--- SKIP: TestT-x (0.00s)\n"},
			[4]string{"skip", p, "TestT-x", ""},
			[4]string{"output", p, "", "FAIL\n"},
			[4]string{"output", p, "", "FAIL\texample.com/m/p\t0.01s\n"},
			[4]string{"fail", p, "", ""},
		), "", 1, 1, 1, []string{
			"    t_test.go:5: got 2, want 3",
			"    --- FAIL: TestT/two (0.00s)",
			"--- FAIL: TestT (0.00s)",
			"FAIL\texample.com/m/p\t0.01s",
			"1 skipped: no reason given",
			"1 passed, 1 failed, 1 skipped",
		}, []string{"=== RUN   TestT/one"}},
		{"a parent failing by itself counts", stream(t,
			[4]string{"pass", p, "TestP/a", ""},
			[4]string{"output", p, "TestP", "    p_test.go:20: after the subtests\n"},
			[4]string{"fail", p, "TestP", ""},
			[4]string{"fail", p, "", ""},
		), "", 1, 1, 0, []string{"    p_test.go:20: after the subtests", "1 passed, 1 failed, 0 skipped"}, nil},
		{"build failure", `{"ImportPath":"example.com/m/q [example.com/m/q.test]","Action":"build-output","Output":"# example.com/m/q\n"}
{"ImportPath":"example.com/m/q [example.com/m/q.test]","Action":"build-output","Output":"q/q.go:3:1: syntax error\n"}
{"ImportPath":"example.com/m/q [example.com/m/q.test]","Action":"build-fail"}
` + stream(t,
			[4]string{"output", "example.com/m/q", "", "FAIL\texample.com/m/q [build failed]\n"},
			[4]string{"fail", "example.com/m/q", "", ""},
		), "", 0, 1, 0, []string{"q/q.go:3:1: syntax error", "FAIL\texample.com/m/q [build failed]", "0 passed, 1 failed, 0 skipped"}, nil},
		{"crash: unfinished test output and plain lines pass through", "go: warning: something\n" + stream(t,
			[4]string{"output", p, "TestX", "panic: boom\n"},
			[4]string{"fail", p, "", ""},
		), "", 0, 1, 0, []string{"go: warning: something", "panic: boom", "0 passed, 1 failed, 0 skipped"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var out strings.Builder
			s, err := summarize(strings.NewReader(tc.in), &out, tc.noFixtures)
			if err != nil {
				t.Fatal(err)
			}
			if s.passed != tc.passed || s.failed != tc.failed || s.skipped != tc.skipped {
				t.Errorf("counts %d/%d/%d, want %d/%d/%d", s.passed, s.failed, s.skipped, tc.passed, tc.failed, tc.skipped)
			}
			lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
			if last := lines[len(lines)-1]; last != tc.show[len(tc.show)-1] {
				t.Errorf("last line %q, want %q", last, tc.show[len(tc.show)-1])
			}
			i := 0
			for _, l := range lines {
				if i < len(tc.show) && l == tc.show[i] {
					i++
				}
				for _, h := range tc.hide {
					if l == h {
						t.Errorf("output shows %q", h)
					}
				}
			}
			if i < len(tc.show) {
				t.Errorf("output lacks %q (in order):\n%s", tc.show[i], out.String())
			}
		})
	}
}
