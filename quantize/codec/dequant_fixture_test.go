package codec

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestDequantizeMatchesGGUFPy dequantizes the tensors listed in dequant/index.json (written by
// the gguf Python package's reference dequantizers from llama-quantize's files) and requires
// identical float32 bits.
func TestDequantizeMatchesGGUFPy(t *testing.T) {
	dir := llamaDir(t)
	raw, err := os.ReadFile(filepath.Join(dir, "dequant", "index.json"))
	if err != nil {
		t.Fatal(err)
	}
	var index map[string]struct {
		GGUF   string   `json:"gguf"`
		Tensor string   `json:"tensor"`
		Type   string   `json:"type"`
		Shape  []uint64 `json:"shape_ggml"`
		N      int      `json:"n"`
	}
	if err := json.Unmarshal(raw, &index); err != nil {
		t.Fatal(err)
	}
	names := make([]string, 0, len(index))
	for k := range index {
		names = append(names, k)
	}
	sort.Strings(names)
	seen := map[string]bool{}
	for _, name := range names {
		e := index[name]
		t.Run(name, func(t *testing.T) {
			f, err := gguf.Open(filepath.Join(dir, "gguf", e.GGUF))
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			ti, ok := f.Tensor(e.Tensor)
			if !ok {
				t.Fatalf("tensor %s not in %s", e.Tensor, e.GGUF)
			}
			if ti.Type.String() != e.Type {
				t.Fatalf("type %s, index says %s", ti.Type, e.Type)
			}
			data, _ := f.TensorDataByName(e.Tensor)
			got := make([]float32, ti.NumElements())
			if err := Dequantize(ti.Type, got, data); err != nil {
				t.Fatal(err)
			}
			wantRaw, err := os.ReadFile(filepath.Join(dir, "dequant", name))
			if err != nil {
				t.Fatal(err)
			}
			if len(wantRaw) != 4*len(got) {
				t.Fatalf("golden has %d bytes, want %d", len(wantRaw), 4*len(got))
			}
			bad := 0
			for i, g := range got {
				w := binary.LittleEndian.Uint32(wantRaw[4*i:])
				if math.Float32bits(g) != w {
					if bad < 5 {
						t.Errorf("element %d: got %g (%#x), want %g (%#x)", i, g, math.Float32bits(g), math.Float32frombits(w), w)
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d elements differ", bad, len(got))
			}
			seen[e.Type] = true
		})
	}
	t.Logf("types checked: %v", seen)
}
