package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
)

func TestParseQuantizeMethod(t *testing.T) {
	tests := []struct {
		in   string
		want quantizeMethod
		bad  bool
	}{
		{"", quantizeMethod{}, false},
		{"plain", quantizeMethod{}, false},
		{"search", quantizeMethod{search: true}, false},
		{"GPTQ", quantizeMethod{gptq: true}, false},
		{"gptq+search", quantizeMethod{gptq: true, search: true}, false},
		{"auto+gptq", quantizeMethod{gptq: true, auto: true}, false},
		{"awq", quantizeMethod{}, true},
		{"gptq+", quantizeMethod{}, true},
	}
	for _, tc := range tests {
		got, err := parseQuantizeMethod(tc.in)
		if (err != nil) != tc.bad || (!tc.bad && got != tc.want) {
			t.Errorf("%q: got %+v, %v", tc.in, got, err)
		}
	}
}

// TestQuantizeGPTQCommand runs quantize --method auto+gptq+search on the fixture teacher with a
// little calibration text: the file is written in standard types, loads and runs in the
// runtime, and the flags' misuse is bad input.
func TestQuantizeGPTQCommand(t *testing.T) {
	model := runFixtureModel(t, "F32")
	calib := filepath.Join(filepath.Dir(filepath.Dir(model)), "valid.txt")
	out := filepath.Join(t.TempDir(), "gptq.gguf")
	code, _, stderr := runCLI(t, "quantize", model, "-o", out, "--type", "Q4_K_M", "--method", "auto+gptq+search",
		"--target-bpw", "5", "--calib", calib, "--calib-samples", "2", "--calib-len", "64", "--act-order", "-q")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	var bytes, weights uint64
	for _, ti := range f.Tensors {
		bytes += ti.Size()
		weights += ti.NumElements()
	}
	f.Close()
	if bpw := float64(bytes) * 8 / float64(weights); bpw > 5.01 || bpw < 4.5 {
		t.Errorf("%.3f bits per weight, asked for 5", bpw)
	}
	m, err := runtime.Load(out, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, err := m.NewSession(8)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Forward([]int32{1, 40, 41}, 0, true); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--method", "gptq"}, "--calib"},
		{[]string{"--method", "auto", "--calib", calib}, "--target-bpw"},
		{[]string{"--method", "magic"}, "--method"},
	} {
		code, _, stderr := runCLI(t, append([]string{"quantize", model, "-o", out, "-q"}, tc.args...)...)
		if code != 2 || !strings.Contains(stderr, tc.want) {
			t.Errorf("%v: exit %d, %s", tc.args, code, stderr)
		}
	}
}
