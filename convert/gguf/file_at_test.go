package gguf

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// TestWriteFileAt checks that tensors placed from several goroutines, in pieces and in reverse
// order, give the same bytes as the streaming writer, and that short, overrunning or failed
// fills leave no file.
func TestWriteFileAt(t *testing.T) {
	md := sampleMetadata()
	infos, data := sampleTensors()
	want := encode(t, md, infos, data)
	dir := t.TempDir()
	p := filepath.Join(dir, "m.gguf")
	err := WriteFileAt(p, md, infos, func(w *TensorWriterAt) error {
		var wg sync.WaitGroup
		errs := make(chan error, 64)
		for i := len(data) - 1; i >= 0; i-- {
			for off := 0; off < len(data[i]); off += 5 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					if err := w.WriteAt(i, uint64(off), data[i][off:min(off+5, len(data[i]))]); err != nil {
						errs <- err
					}
				}()
			}
		}
		wg.Wait()
		close(errs)
		return <-errs
	})
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("WriteFileAt gave %d bytes that differ from the streaming writer's %d", len(got), len(want))
	}

	for _, c := range []struct {
		name string
		fill func(w *TensorWriterAt) error
		want string
	}{
		{"short", func(w *TensorWriterAt) error { return w.WriteAt(0, 0, data[0]) }, "bytes written"},
		{"overrun", func(w *TensorWriterAt) error { return w.WriteAt(0, 1, data[0]) }, "overrun"},
		{"index", func(w *TensorWriterAt) error { return w.WriteAt(len(infos), 0, nil) }, "out of range"},
	} {
		q := filepath.Join(dir, c.name+".gguf")
		err := WriteFileAt(q, md, infos, c.fill)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
		if _, serr := os.Stat(q); serr == nil {
			t.Errorf("%s: file left behind", c.name)
		}
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Errorf("want only m.gguf in the folder, got %v", ents)
	}
}
