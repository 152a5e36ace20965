package main

import (
	"os"
	"testing"
)

// TestMain lets the test binary stand in for mcompress, so tests can run the CLI as separate
// processes without a build: with MCOMPRESS_TEST_AS_MAIN=1 it runs the arguments as mcompress
// does (the pipeline's steps, which run os.Executable()), and with MCOMPRESS_TEST_CLI=1 the
// arguments after "--" (sharded runs started by runProcess).
func TestMain(m *testing.M) {
	if os.Getenv(asMainEnv) == "1" {
		os.Exit(run(os.Args[1:]))
	}
	if os.Getenv("MCOMPRESS_TEST_CLI") == "1" {
		for i, a := range os.Args {
			if a == "--" {
				os.Exit(run(os.Args[i+1:]))
			}
		}
		os.Exit(2)
	}
	os.Exit(m.Run())
}
