package safetensors

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// FuzzParse checks that no input makes Parse panic, that every accepted file satisfies the
// format's invariants (ranges inside the data section, sizes matching shapes), and that whatever
// Parse accepts can be rewritten and parsed back to the same tensors.
func FuzzParse(f *testing.F) {
	infos, data := sample()
	f.Add(encode(f, map[string]string{"format": "pt"}, infos, data))
	f.Add(encode(f, nil, infos[:3], data[:3]))
	f.Add(rawFile(`{}`, nil))
	f.Add(rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)))
	f.Add(rawFile(`{"a":{"dtype":"BF16","shape":[],"data_offsets":[0,2]},"__metadata__":{"k":"v"}}  `, []byte{1, 2}))
	f.Fuzz(func(t *testing.T, b []byte) {
		g, err := Parse(b)
		if err != nil {
			return
		}
		for i, ti := range g.Tensors {
			size, err := byteSize(ti.DType, ti.Shape)
			if err != nil || size != ti.Size() {
				t.Fatalf("tensor %q: size %d, shape says %d (%v)", ti.Name, ti.Size(), size, err)
			}
			if g.DataOffset+ti.End > int64(len(b)) {
				t.Fatalf("tensor %q past the end", ti.Name)
			}
			_ = g.TensorData(i)
		}
		datas := make([][]byte, len(g.Tensors))
		for i := range datas {
			datas[i] = g.TensorData(i)
		}
		var buf bytes.Buffer
		w, err := NewWriter(&buf, g.Metadata, g.Tensors)
		if err != nil {
			t.Fatalf("accepted file cannot be rewritten: %v", err)
		}
		for i, ti := range g.Tensors {
			if err := w.WriteTensor(ti.Name, datas[i]); err != nil {
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
		for i, ti := range g.Tensors {
			d, ok := h.TensorDataByName(ti.Name)
			if !ok || !bytes.Equal(d, datas[i]) {
				t.Fatalf("tensor %q differs after rewrite", ti.Name)
			}
		}
	})
}

// TestWriteFuzzSeeds regenerates the checked-in seed corpus when MCOMPRESS_WRITE_SEEDS=1.
func TestWriteFuzzSeeds(t *testing.T) {
	if os.Getenv("MCOMPRESS_WRITE_SEEDS") != "1" {
		t.Skip("set MCOMPRESS_WRITE_SEEDS=1 to regenerate testdata/fuzz/FuzzParse seeds")
	}
	infos, data := sample()
	seeds := map[string][]byte{
		"all-dtypes":     encode(t, map[string]string{"format": "pt"}, infos, data),
		"empty":          rawFile(`{}`, nil),
		"padded-meta":    rawFile(`{"a":{"dtype":"U8","shape":[3],"data_offsets":[0,3]},"__metadata__":{"format":"pt"}}   `, []byte{1, 2, 3}),
		"overlap":        rawFile(`{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}`, make([]byte, 8)),
		"zero-size":      rawFile(`{"a":{"dtype":"F32","shape":[0],"data_offsets":[0,0]},"b":{"dtype":"I64","shape":[1],"data_offsets":[0,8]}}`, make([]byte, 8)),
		"header-too-big": rawFile(`{"a":{"dtype":"F16","shape":[1],"data_offsets":[0,2]}}`, []byte{0, 60})[:20],
	}
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range seeds {
		content := "go test fuzz v1\n[]byte(" + quoteBytes(b) + ")\n"
		if err := os.WriteFile(filepath.Join(dir, "seed-"+name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// quoteBytes renders b as a Go string literal the fuzz corpus format accepts.
func quoteBytes(b []byte) string {
	const hex = "0123456789abcdef"
	out := []byte{'"'}
	for _, c := range b {
		switch {
		case c == '"' || c == '\\':
			out = append(out, '\\', c)
		case c >= 0x20 && c < 0x7f:
			out = append(out, c)
		default:
			out = append(out, '\\', 'x', hex[c>>4], hex[c&15])
		}
	}
	return string(append(out, '"'))
}
