package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/eval"
	"github.com/mcompress/mcompress/internal/pipeline"
)

// TestDemoReport checks the report `make demo` wrote (in $MCOMPRESS_DEMO_OUT, default the
// repository's demo-out; skipped when there is none) for consistency: every model step of the
// manifest is in the report, every size is its file's, every file is the one the manifest
// records, and (not in -short) every variant's perplexity recomputes to the same value. make
// demo runs it after the recipe.
func TestDemoReport(t *testing.T) {
	dir := os.Getenv("MCOMPRESS_DEMO_OUT")
	if dir == "" {
		dir = filepath.Join("..", "..", "demo-out")
	}
	b, err := os.ReadFile(filepath.Join(dir, "report", "report.json"))
	if err != nil {
		t.Skipf("no demo report (run make demo): %v", err)
	}
	var rep eval.Report
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	m := readPipelineManifest(t, dir)
	if rec := m.Steps[pipeline.EvalStep]; rec == nil || rec.Outputs["report/report.json"] == "" {
		t.Fatalf("the manifest does not record the report: %+v", rec)
	}
	inReport := map[string]bool{}
	for _, mr := range rep.Models {
		path := filepath.Join(dir, mr.Path) // paths are relative to the run folder
		inReport[filepath.ToSlash(mr.Path)] = true
		st, err := os.Stat(path)
		if err != nil {
			t.Fatalf("%s: %v", mr.Name, err)
		}
		if mr.Size == nil || mr.Size.FileBytes != st.Size() {
			t.Errorf("%s: report size %+v, file %d bytes", mr.Name, mr.Size, st.Size())
		}
		h, err := hashFileForTest(path)
		if err != nil {
			t.Fatal(err)
		}
		if !recorded(m, filepath.ToSlash(mr.Path), h) {
			t.Errorf("%s: %s is not the file the manifest records", mr.Name, mr.Path)
		}
	}
	for name, rec := range m.Steps {
		for out := range rec.Outputs {
			if filepath.Ext(out) == ".gguf" && rec.Kind != "imatrix" && filepath.Base(filepath.Dir(out)) != "hf" && !inReport[out] {
				// A distill step's folder holds model.gguf only once: hf/ has safetensors.
				t.Errorf("step %s: %s is not in the report", name, out)
			}
		}
	}
	if testing.Short() {
		t.Log("perplexity recomputation skipped in -short")
		return
	}
	o := eval.Options{Base: filepath.Join(dir, rep.Base), Data: filepath.Join(dir, rep.Data.Path),
		Context: rep.Data.Context, Stride: rep.Data.Stride, MaxChunks: rep.Data.Chunks, SkipLatency: true}
	for _, mr := range rep.Models {
		if !mr.IsBase {
			o.Models = append(o.Models, filepath.Join(dir, mr.Path))
		}
	}
	again, err := eval.Run(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Models) != len(rep.Models) {
		t.Fatalf("%d models recomputed, %d in the report", len(again.Models), len(rep.Models))
	}
	for i, mr := range rep.Models {
		got := again.Models[i]
		if mr.Perplexity == nil || got.Perplexity == nil || got.Perplexity.PPL != mr.Perplexity.PPL || got.Perplexity.Uncertainty != mr.Perplexity.Uncertainty {
			t.Errorf("%s: report perplexity %+v, recomputed %+v", mr.Name, mr.Perplexity, got.Perplexity)
		}
	}
}

// recorded reports whether the manifest records path with hash h as some step's output.
func recorded(m *pipeline.Manifest, path, h string) bool {
	for _, rec := range m.Steps {
		if rec.Outputs[path] == h {
			return true
		}
	}
	return false
}
