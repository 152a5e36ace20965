package eval

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
)

// TestModelSizeTypes checks that the size report says what a file really holds, type by type.
func TestModelSizeTypes(t *testing.T) {
	dir := t.TempDir()
	cfg := convert.Config{Arch: "llama", HFModelType: "llama", VocabSize: 300, Hidden: 32, Layers: 1, Heads: 2,
		KVHeads: 2, HeadDim: 16, RopeDim: 16, FFN: 64, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, BOS: 1, EOS: 2}
	tests := []struct {
		typ       gguf.TensorType
		wantTypes []string // most weights first
		summary   string
	}{
		{gguf.TypeF32, []string{"F32"}, "F32 100.0% of weights (100.0% of bytes, 12 tensors)"},
		{gguf.TypeQ8_0, []string{"Q8_0", "F32"}, "Q8_0 99."},
	}
	for _, tc := range tests {
		t.Run(tc.typ.String(), func(t *testing.T) {
			p := filepath.Join(dir, tc.typ.String()+".gguf")
			if err := runtime.WriteRandomModel(p, runtime.RandomModelOptions{Config: cfg, Type: tc.typ, Seed: 1}); err != nil {
				t.Fatal(err)
			}
			s, err := ModelSize(p)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			var params, bytes int64
			for _, ts := range s.Types {
				got = append(got, ts.Type)
				params += ts.Params
				bytes += ts.Bytes
			}
			if strings.Join(got, ",") != strings.Join(tc.wantTypes, ",") || params != s.Params || bytes != s.TensorBytes {
				t.Errorf("types %v (%d params, %d bytes), want %v (%d, %d)", got, params, bytes, tc.wantTypes, s.Params, s.TensorBytes)
			}
			if sum := s.TypesSummary(); !strings.HasPrefix(sum, tc.summary) {
				t.Errorf("summary %q, want it to start with %q", sum, tc.summary)
			}
		})
	}
}

// TestReportSaysWhatFilesHold checks that report.md and report.html carry the type summary.
func TestReportSaysWhatFilesHold(t *testing.T) {
	s := &Size{Params: 100, TensorBytes: 200, Types: []TypeShare{{Type: "Q4_0", Tensors: 3, Params: 60, Bytes: 40}, {Type: "Q8_0", Tensors: 1, Params: 40, Bytes: 160}}}
	want := "Q4_0 60.0% of weights (20.0% of bytes, 3 tensors), Q8_0 40.0% (80.0%, 1)"
	if got := s.TypesSummary(); got != want {
		t.Fatalf("summary %q, want %q", got, want)
	}
	r := &Report{Base: "a.gguf", Models: []ModelReport{{Name: "a", Path: "a.gguf", IsBase: true, Size: s}}, Gates: GateReport{Passed: true}}
	for name, out := range map[string][]byte{"markdown": r.Markdown(), "html": r.HTML()} {
		if !strings.Contains(string(out), want) {
			t.Errorf("%s report lacks %q", name, want)
		}
	}
}
