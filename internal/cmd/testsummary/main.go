// Command testsummary reads `go test -json` on stdin and writes what plain `go test` would show
// (package result lines, build errors, and the output of failing tests) followed by the skip
// reasons, grouped, and one last line "N passed, N failed, N skipped". It exits with status 1
// when a test, a package or a build failed, so that
//
//	set -o pipefail; go test -json ./... | go run ./internal/cmd/testsummary
//
// fails as go test does. `make test` runs it, so that a newcomer sees how many tests skipped
// (and why: usually the reference fixtures at ../shared are absent) and not only "ok" lines.
//
// Only leaf tests are counted: a test with subtests counts through its subtests.
package main

import (
	"fmt"
	"io"
	"os"

	"github.com/mcompress/mcompress/internal/testfixtures"
)

func main() {
	noFixtures := ""
	if _, err := testfixtures.Find(); err != nil {
		noFixtures = err.Error()
	}
	s, err := summarize(os.Stdin, os.Stdout, noFixtures)
	if err != nil {
		fmt.Fprintln(os.Stderr, "testsummary:", err)
		os.Exit(2)
	}
	if s.failed > 0 {
		os.Exit(1)
	}
}

// summarize copies the human-readable part of the go test -json stream in to out, then the
// summary, and returns the counts. noFixtures, when not empty, is why ../shared is absent: the
// skips that mention fixtures are counted under it.
func summarize(in io.Reader, out io.Writer, noFixtures string) (*summary, error) {
	s := newSummary(out)
	s.noFixtures = noFixtures
	if err := s.read(in); err != nil {
		return nil, fmt.Errorf("reading go test -json output: %w", err)
	}
	s.finish()
	return s, nil
}
