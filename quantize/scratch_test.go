package quantize

import (
	"bytes"
	"path/filepath"
	"testing"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
)

func TestScratchTensorBytes(t *testing.T) {
	dir := llamaDir(t)
	src, err := gguf.Open(filepath.Join(dir, "gguf", "teacher-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, mix := range []string{"Q8_0", "Q6_K", "Q5_K_M", "Q5_1", "Q5_0", "Q4_K_M", "Q4_K_S", "Q4_1", "Q4_0", "Q3_K_M", "Q2_K"} {
		f, err := gguf.Open(filepath.Join(dir, "gguf", "teacher-"+mix+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		for i, ti := range f.Tensors {
			if !ti.Type.Quantized() {
				continue
			}
			in, _ := src.TensorDataByName(ti.Name)
			x := make([]float32, len(in)/4)
			dtype.DecodeF32(x, in)
			out := make([]byte, ti.Size())
			if err := Quantize(ti.Type, out, x, int(ti.Dims[0]), nil); err != nil {
				t.Fatal(err)
			}
			want := f.TensorData(i)
			if !bytes.Equal(out, want) {
				n := 0
				first := -1
				for k := range out {
					if out[k] != want[k] {
						n++
						if first < 0 {
							first = k
						}
					}
				}
				bs := ti.Type.TypeSize()
				t.Errorf("%s %s %s: %d bytes differ, first at %d (block %d offset %d)", mix, ti.Name, ti.Type, n, first, first/bs, first%bs)
			}
		}
		f.Close()
	}
}
