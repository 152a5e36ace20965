package gguf

import (
	"bytes"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, and that whatever Parse accepts can be
// rewritten and parsed back to the same thing.
func FuzzParse(f *testing.F) {
	infos, data := sampleTensors()
	f.Add(encode(f, sampleMetadata(), infos, data))
	f.Add(encode(f, nil, nil, nil))
	f.Add(encode(f, Metadata{{"general.alignment", uint32(16)}}, infos[:1], data[:1]))
	f.Add([]byte("GGUF\x03\x00\x00\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, g.Metadata, g.Tensors)
		if err != nil {
			return // e.g. names longer than llama.cpp accepts: readable, not writable
		}
		for i, ti := range g.Tensors {
			if err := w.WriteTensor(ti.Name, g.TensorData(i)); err != nil {
				t.Fatalf("rewrite tensor %q: %v", ti.Name, err)
			}
		}
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		h, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("rewritten file does not parse: %v", err)
		}
		if len(h.Tensors) != len(g.Tensors) || len(h.Metadata) != len(g.Metadata) {
			t.Fatal("rewritten file differs")
		}
		for i := range g.Tensors {
			if !bytes.Equal(g.TensorData(i), h.TensorData(i)) {
				t.Fatalf("tensor %d data differs after rewrite", i)
			}
		}
	})
}
