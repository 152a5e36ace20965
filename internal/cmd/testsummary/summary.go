package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"regexp"
	"sort"
	"strings"
)

// event is one line of `go test -json` (cmd/test2json's TestEvent, plus the build events).
type event struct {
	Action     string
	Package    string
	ImportPath string // build-output and build-fail events
	Test       string
	Output     string
}

// summary accumulates the events of one go test run.
type summary struct {
	out io.Writer
	// noFixtures, when not empty, says why ../shared is absent; skips that mention fixtures
	// are then grouped under it, as one reason.
	noFixtures string
	output     map[string][]string // buffered output of each running test, by package + test
	result     map[string]string   // pass, fail or skip of each test, by package + test
	reason     map[string]string   // skip reason of each skipped test
	failed     int                 // failed leaf tests, packages and builds
	passed     int
	skipped    int
	pkgFail    map[string]bool // packages that reported fail
	testIn     map[string]bool // packages with a failing test
}

func newSummary(out io.Writer) *summary {
	return &summary{out: out, output: map[string][]string{}, result: map[string]string{},
		reason: map[string]string{}, pkgFail: map[string]bool{}, testIn: map[string]bool{}}
}

// read consumes the stream; lines that are not JSON events are copied through unchanged.
func (s *summary) read(in io.Reader) error {
	sc := bufio.NewScanner(in)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		line := sc.Bytes()
		var e event
		if len(line) == 0 || line[0] != '{' || json.Unmarshal(line, &e) != nil || e.Action == "" {
			fmt.Fprintf(s.out, "%s\n", line)
			continue
		}
		s.event(e)
	}
	return sc.Err()
}

// key names a test within the run.
func key(pkg, test string) string { return pkg + "\x00" + test }

func (s *summary) event(e event) {
	switch {
	case e.Action == "build-output":
		io.WriteString(s.out, e.Output)
	case e.Action == "build-fail":
		// counted through the package's fail event, which follows
	case e.Test == "":
		s.packageEvent(e)
	case e.Action == "output":
		k := key(e.Package, e.Test)
		s.output[k] = append(s.output[k], e.Output)
	case e.Action == "pass" || e.Action == "fail" || e.Action == "skip":
		k := key(e.Package, e.Test)
		s.result[k] = e.Action
		switch e.Action {
		case "fail":
			s.testIn[e.Package] = true
			for _, l := range s.output[k] {
				if !strings.HasPrefix(l, "=== ") {
					io.WriteString(s.out, l)
				}
			}
		case "skip":
			s.reason[k] = skipReason(s.output[k])
		}
		delete(s.output, k)
	}
}

// packageEvent handles the events of a package as a whole: its result line is printed as go
// test prints it, the bare PASS of the test binary is not.
func (s *summary) packageEvent(e event) {
	switch e.Action {
	case "output":
		if e.Output != "PASS\n" {
			io.WriteString(s.out, e.Output)
		}
	case "fail":
		s.pkgFail[e.Package] = true
	}
}

// fileLine is the "name_test.go:12: " prefix that t.Log and t.Skip put before a message.
var fileLine = regexp.MustCompile(`^\s*[\w.-]+\.go:\d+: `)

// skipReason returns the message a skipped test logged last before its --- SKIP line.
func skipReason(lines []string) string {
	reason := ""
	for _, l := range lines {
		if strings.HasPrefix(l, "=== ") || strings.Contains(l, "--- SKIP") {
			continue
		}
		if m := fileLine.FindString(l); m != "" {
			reason = strings.TrimSpace(l[len(m):])
		} else if reason == "" {
			reason = strings.TrimSpace(l)
		}
	}
	if reason == "" {
		return "no reason given"
	}
	return reason
}

// absPath matches absolute paths in skip messages, which differ from test to test (and machine
// to machine) while the reason is the same ("fixture /x/shared/a.gguf not present").
var absPath = regexp.MustCompile(`(^|[\s('"])/[^\s:'"()]*`)

// group returns the reason under which a skip with this message is counted.
func (s *summary) group(reason string) string {
	if l := strings.ToLower(reason); s.noFixtures != "" && (strings.Contains(l, "shared") || strings.Contains(l, "fixture")) {
		return s.noFixtures
	}
	return absPath.ReplaceAllString(reason, "${1}…")
}

// finish counts the leaf tests and the failed packages, and writes the skip reasons and the
// summary line.
func (s *summary) finish() {
	// Output of tests that never finished (a crash or a time-out) is shown as it is.
	pending := make([]string, 0, len(s.output))
	for k := range s.output {
		pending = append(pending, k)
	}
	sort.Strings(pending)
	for _, k := range pending {
		for _, l := range s.output[k] {
			io.WriteString(s.out, l)
		}
	}
	// parents[k] is true for a test with subtests that failed, false for one whose subtests
	// did not fail.
	parents := map[string]bool{}
	for k, r := range s.result {
		for i := len(k) - 1; i >= 0; i-- {
			if k[i] == '/' {
				parents[k[:i]] = parents[k[:i]] || r == "fail"
			}
		}
	}
	groups := map[string]int{}
	for k, r := range s.result {
		childFailed, isParent := parents[k]
		switch {
		case isParent && !(r == "fail" && !childFailed):
			// counted through its subtests, unless it failed by itself
		case r == "pass":
			s.passed++
		case r == "fail":
			s.failed++
		case r == "skip":
			s.skipped++
			groups[s.group(s.reason[k])]++
		}
	}
	for pkg := range s.pkgFail {
		if !s.testIn[pkg] { // a build failure, a panic outside tests, a TestMain failure
			s.failed++
		}
	}
	reasons := make([]string, 0, len(groups))
	for r := range groups {
		reasons = append(reasons, r)
	}
	sort.Slice(reasons, func(i, j int) bool {
		if groups[reasons[i]] != groups[reasons[j]] {
			return groups[reasons[i]] > groups[reasons[j]]
		}
		return reasons[i] < reasons[j]
	})
	for _, r := range reasons {
		fmt.Fprintf(s.out, "%d skipped: %s\n", groups[r], r)
	}
	fmt.Fprintf(s.out, "%d passed, %d failed, %d skipped\n", s.passed, s.failed, s.skipped)
}
