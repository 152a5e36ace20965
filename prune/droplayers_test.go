package prune

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/testfixtures"
)

// writeModel writes a small GGUF "model" of four Q8_0 blocks with a per-layer metadata array.
func writeModel(t *testing.T, path string) {
	t.Helper()
	md := gguf.Metadata{
		{Key: "general.architecture", Value: "llama"},
		{Key: "llama.block_count", Value: uint32(4)},
		{Key: "llama.attention.head_count", Value: gguf.Array{Type: gguf.ValueInt32, Values: []int32{8, 8, 4, 2}}},
		{Key: "llama.rope.dimension_sections", Value: gguf.Array{Type: gguf.ValueInt32, Values: []int32{1, 2}}},
	}
	var tensors []gguf.TensorInfo
	add := func(name string) {
		tensors = append(tensors, gguf.TensorInfo{Name: name, Type: gguf.TypeQ8_0, Dims: []uint64{32, 3}})
	}
	add("token_embd.weight")
	for b := range 4 {
		add(fmt.Sprintf("blk.%d.attn_q.weight", b))
		add(fmt.Sprintf("blk.%d.ffn_up.weight", b))
	}
	add("output.weight")
	rng := rand.New(rand.NewPCG(1, 2))
	err := gguf.WriteFile(path, md, tensors, func(w *gguf.Writer) error {
		for _, ti := range w.Tensors() {
			data := make([]byte, ti.Size())
			for i := range data {
				data[i] = byte(rng.Uint32())
			}
			if err := w.WriteTensor(ti.Name, data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestDropLayersFile(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "in.gguf"), filepath.Join(dir, "out.gguf")
	writeModel(t, in)
	p, err := DropLayersFile(in, out, []int{3, 1}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p.Kept, []int{0, 2}) {
		t.Errorf("kept blocks %v, want [0 2]", p.Kept)
	}
	src, _ := gguf.Open(in)
	defer src.Close()
	dst, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if n, _ := dst.Metadata.Uint("llama.block_count"); n != 2 {
		t.Errorf("block_count %d, want 2", n)
	}
	if v, _ := dst.Metadata.Lookup("llama.block_count"); reflect.TypeOf(v) != reflect.TypeOf(uint32(0)) {
		t.Errorf("block_count stored as %T, want uint32 as in the source", v)
	}
	if a, _ := dst.Metadata.Int32s("llama.attention.head_count"); !reflect.DeepEqual(a, []int32{8, 4}) {
		t.Errorf("per-layer head counts %v, want [8 4]", a)
	}
	if a, _ := dst.Metadata.Int32s("llama.rope.dimension_sections"); !reflect.DeepEqual(a, []int32{1, 2}) {
		t.Errorf("an array that is not per layer changed: %v", a)
	}
	want := map[string]string{
		"token_embd.weight": "token_embd.weight", "output.weight": "output.weight",
		"blk.0.attn_q.weight": "blk.0.attn_q.weight", "blk.0.ffn_up.weight": "blk.0.ffn_up.weight",
		"blk.1.attn_q.weight": "blk.2.attn_q.weight", "blk.1.ffn_up.weight": "blk.2.ffn_up.weight",
	}
	if len(dst.Tensors) != len(want) {
		t.Fatalf("%d tensors, want %d", len(dst.Tensors), len(want))
	}
	for name, from := range want {
		a, ok1 := dst.TensorDataByName(name)
		b, ok2 := src.TensorDataByName(from)
		if !ok1 || !ok2 || !bytes.Equal(a, b) {
			t.Errorf("%s: not a byte copy of the source's %s", name, from)
		}
	}
}

func TestDropLayersBadInput(t *testing.T) {
	dir := t.TempDir()
	in := filepath.Join(dir, "in.gguf")
	writeModel(t, in)
	for _, drop := range [][]int{{4}, {-1}, {1, 1}, {0, 1, 2, 3}} {
		out := filepath.Join(dir, "out.gguf")
		if _, err := DropLayersFile(in, out, drop, 0); !errors.Is(err, ErrBadInput) {
			t.Errorf("drop %v: got %v, want a bad-input error", drop, err)
		}
		if _, err := os.Stat(out); err == nil {
			t.Errorf("drop %v: output written despite the error", drop)
		}
	}
}

// TestDropLayersQuantizedFixture drops two blocks of llama.cpp's Q4_K_M file of the fixture
// teacher: every kept tensor must be a byte copy.
func TestDropLayersQuantizedFixture(t *testing.T) {
	in := testfixtures.Path(t, "fixtures/shakespeare-llama/gguf/teacher-Q4_K_M.gguf")
	out := filepath.Join(t.TempDir(), "dropped.gguf")
	p, err := DropLayersFile(in, out, []int{1, 2}, 0)
	if err != nil {
		t.Fatal(err)
	}
	src, _ := gguf.Open(in)
	defer src.Close()
	dst, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer dst.Close()
	if n, _ := dst.Metadata.Uint("llama.block_count"); n != 2 {
		t.Errorf("block_count %d, want 2", n)
	}
	for i, ti := range dst.Tensors {
		from := src.Tensors[p.Source[i]]
		if ti.Type != from.Type || !reflect.DeepEqual(ti.Dims, from.Dims) || !bytes.Equal(dst.TensorData(i), src.TensorData(p.Source[i])) {
			t.Errorf("%s: not a byte copy of %s", ti.Name, from.Name)
		}
	}
	if got, want := len(dst.Tensors), len(src.Tensors)-2*9; got != want {
		t.Errorf("%d tensors, want %d", got, want)
	}
}
