package runtime

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestGenerateNaNWeights: a NaN weight makes the logits NaN, and Generate says so and names the
// tensor, row and column holding the NaN, instead of silently generating token 0.
func TestGenerateNaNWeights(t *testing.T) {
	for _, c := range []struct {
		arch, tensor string
		row, col     int
	}{
		{"llama", "blk.1.ffn_down.weight", 5, 7},
		{"qwen2", "blk.0.attn_k.bias", 0, 3},
		{"llama", "output_norm.weight", 0, 60},
	} {
		cfg := tinyConfig(c.arch)
		w := randomTensors(cfg, 1)
		tn := w[c.tensor]
		tn.Data[c.row*tn.Dims[0]+c.col] = float32(math.NaN())
		m, err := FromTensors(cfg, w, nil, Options{Threads: 1})
		if err != nil {
			t.Fatal(err)
		}
		want := []string{"logits are NaN", `"` + c.tensor + `"`, fmt.Sprintf("row %d, column %d", c.row, c.col)}
		checkNaNError(t, m, want)
		m.Close()
	}
	// NaN logits from finite weights (overflowing activations) say that no weight is to blame.
	m, err := FromTensors(tinyConfig("llama"), randomTensors(tinyConfig("llama"), 1), nil, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	if err := m.checkLogits([]float32{float32(math.NaN())}); err == nil || !strings.Contains(err.Error(), "no weight holds a NaN") {
		t.Errorf("NaN logits of finite weights: %v", err)
	}
}

// nanFile writes a random model of type typ with the 2-byte F16 value at byte off of the
// data of blk.0.attn_q.weight set to NaN, and loads it.
func nanFile(t *testing.T, typ gguf.TensorType, off uint64) *Model {
	t.Helper()
	cfg := tinyConfig("llama")
	path := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteRandomModel(path, RandomModelOptions{Config: cfg, Type: typ, Seed: 2}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	ti, _ := f.Tensor("blk.0.attn_q.weight")
	start := f.DataOffset + ti.Offset
	f.Close()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	binary.LittleEndian.PutUint16(data[start+off:], 0x7e00) // F16 NaN
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	m, err := Load(path, Options{Threads: 1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return m
}

// TestGenerateNaNInFile: a NaN in an F16 weight of a file is named with its row and column.
func TestGenerateNaNInFile(t *testing.T) {
	m := nanFile(t, gguf.TypeF16, 2*(3*64+33)) // row 3, column 33 of 64 columns
	checkNaNError(t, m, []string{"logits are NaN", `"blk.0.attn_q.weight"`, "row 3, column 33"})
}

// TestNaNWeightQuantizedScale: a NaN block scale in a Q8_0 matrix is found by dequantizing its
// rows: the tensor, the row and the block's first column are named.
func TestNaNWeightQuantizedScale(t *testing.T) {
	// 64 columns: two Q8_0 blocks of 34 bytes (F16 scale, 32 int8) a row; block 1 of row 3.
	m := nanFile(t, gguf.TypeQ8_0, 3*68+34)
	name, row, col, ok := m.nanWeight()
	if !ok || name != "blk.0.attn_q.weight" || row != 3 || col != 32 {
		t.Fatalf("found %v %q row %d column %d, want blk.0.attn_q.weight row 3 column 32", ok, name, row, col)
	}
	if err := m.checkLogits([]float32{0, float32(math.NaN())}); err == nil || !strings.Contains(err.Error(), "row 3, column 32") || !errors.Is(err, ErrBadInput) {
		t.Fatalf("checkLogits: %v (want a bad-input error naming row 3, column 32)", err)
	}
	if err := m.checkLogits([]float32{0, 1}); err != nil {
		t.Fatalf("finite logits: %v", err)
	}
}

// checkNaNError generates from m and expects an error mentioning every string of want, with
// no token emitted.
func checkNaNError(t *testing.T, m *Model, want []string) {
	t.Helper()
	s, err := m.NewSession(16)
	if err != nil {
		t.Fatal(err)
	}
	n, err := s.Generate(context.Background(), []int32{1, 5, 9}, GenerateOptions{MaxTokens: 4}, func(int32) error { return nil })
	if err == nil {
		t.Fatalf("generated %d tokens from NaN logits without an error", n)
	}
	if n != 0 {
		t.Errorf("%d tokens emitted before the error", n)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("error %q does not mention %s", err, w)
		}
	}
}
