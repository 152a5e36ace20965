package codec

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// iqTypes are the 1-3-bit types of issue 16, in ggml id order.
var iqTypes = []gguf.TensorType{gguf.TypeIQ2_XXS, gguf.TypeIQ2_XS, gguf.TypeIQ3_XXS, gguf.TypeIQ1_S,
	gguf.TypeIQ3_S, gguf.TypeIQ2_S, gguf.TypeIQ1_M, gguf.TypeTQ1_0, gguf.TypeTQ2_0}

// TestDumpSynthCases writes the synthetic matrices of synthCases as raw little-endian float32
// (NAME.x, NAME.imatrix) into the folder named by MCOMPRESS_DUMP_SYNTH, for
// testdata/iq/reference.py to quantize with ggml. It is skipped otherwise.
func TestDumpSynthCases(t *testing.T) {
	dir := os.Getenv("MCOMPRESS_DUMP_SYNTH")
	if dir == "" {
		t.Skip("MCOMPRESS_DUMP_SYNTH not set")
	}
	write := func(name string, x []float32) {
		b := make([]byte, 4*len(x))
		for i, v := range x {
			binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(v))
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	meta := map[string]int{}
	for _, c := range synthCases() {
		write(c.name+".x", c.x)
		if c.imatrix != nil {
			write(c.name+".imatrix", c.imatrix)
		}
		meta[c.name] = c.cols
	}
	b, _ := json.MarshalIndent(meta, "", "  ")
	if err := os.WriteFile(filepath.Join(dir, "cols.json"), b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIQQuantizeMatchesReferenceDigests quantizes the synthetic matrices with every issue-16
// type and compares the SHA-256 of the bytes with
// testdata/iq/reference_digests.json, computed by testdata/iq/reference.py with ggml's own
// ggml_quantize_chunk (libggml-base of the llama.cpp snapshot, -O3 without -march, so without
// fused multiply-adds). Types that need an importance matrix have digests only with one.
func TestIQQuantizeMatchesReferenceDigests(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "iq", "reference_digests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	checked := map[string]bool{}
	for _, c := range synthCases() {
		for _, tt := range iqTypes {
			key := c.name + "/" + tt.String()
			digest, ok := want[key]
			if !ok {
				continue
			}
			checked[key] = true
			got := make([]byte, len(c.x)/tt.BlockSize()*tt.TypeSize())
			if err := Quantize(tt, got, c.x, c.cols, c.imatrix); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			sum := sha256.Sum256(got)
			if hex.EncodeToString(sum[:]) != digest {
				t.Errorf("%s: output differs from ggml's quantizer", key)
			}
		}
	}
	var missing []string
	for k := range want {
		if !checked[k] {
			missing = append(missing, k)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Errorf("digests never checked (synthetic data changed?): %v", missing)
	}
	if len(checked) != 45 {
		t.Errorf("only %d digests checked", len(checked))
	}
}

// TestIQDequantizeMatchesGGUFPy decodes the pseudo-random blocks of testdata/iq/dequant (every
// field random, the F16 scales finite) and requires the float32 bits the gguf Python package's
// reference dequantizers gave for them (testdata/iq/reference.py).
func TestIQDequantizeMatchesGGUFPy(t *testing.T) {
	for _, tt := range iqTypes {
		t.Run(tt.String(), func(t *testing.T) {
			base := filepath.Join("testdata", "iq", "dequant", tt.String())
			blocks, err := os.ReadFile(base + ".blocks")
			if err != nil {
				t.Fatal(err)
			}
			want, err := os.ReadFile(base + ".f32")
			if err != nil {
				t.Fatal(err)
			}
			got := make([]float32, len(want)/4)
			if err := Dequantize(tt, got, blocks); err != nil {
				t.Fatal(err)
			}
			bad := 0
			for i, g := range got {
				w := binary.LittleEndian.Uint32(want[4*i:])
				if math.Float32bits(g) != w {
					if bad < 5 {
						t.Errorf("element %d: got %g, want %g", i, g, math.Float32frombits(w))
					}
					bad++
				}
			}
			if bad > 0 {
				t.Errorf("%d of %d elements differ", bad, len(got))
			}
		})
	}
}

// TestIQUnpackIntsMatchesDequantize checks that d·sc·q of UnpackInts is the dequantized value
// (up to float rounding) for every weight of the pseudo-random fixture blocks.
func TestIQUnpackIntsMatchesDequantize(t *testing.T) {
	for _, tt := range iqTypes {
		c, _ := Lookup(tt)
		u, ok := c.(IntUnpacker)
		if !ok {
			t.Errorf("%s: no UnpackInts", tt)
			continue
		}
		blocks, err := os.ReadFile(filepath.Join("testdata", "iq", "dequant", tt.String()+".blocks"))
		if err != nil {
			t.Fatal(err)
		}
		ts := c.TypeSize()
		want := make([]float32, QKK)
		for b := 0; b < len(blocks)/ts; b++ {
			blk := blocks[b*ts : b*ts+ts]
			c.DequantizeRow(want, blk)
			var q [256]int8
			var sc [16]int32
			d := float64(u.UnpackInts(blk, &q, &sc))
			for i, w := range want {
				got := d * float64(sc[i/16]) * float64(q[i])
				if math.Abs(got-float64(w)) > 1e-6*math.Abs(float64(w))+1e-30 {
					t.Fatalf("%s block %d weight %d: d·sc·q = %g, dequantized %g", tt, b, i, got, w)
				}
			}
		}
	}
}
