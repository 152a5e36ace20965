package codec

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

// TestQuantizeMatchesReferenceDigests quantizes the synthetic matrices of synthCases (with and
// without importance matrices, including adversarial rows) with every codec and compares the
// SHA-256 of the bytes with testdata/reference_digests.json. Those digests were computed from
// the output of ggml's own reference quantizers (ggml-quants.c at llama.cpp commit 3f545be,
// build 10587, compiled with gcc -O2 -DNDEBUG for x86-64, as the ggml-base library that
// llama-quantize links is built) on the same inputs, so this test pins the imatrix paths and
// the IQ4/Q8_K types that the shared fixture files do not cover.
func TestQuantizeMatchesReferenceDigests(t *testing.T) {
	raw, err := os.ReadFile(filepath.Join("testdata", "reference_digests.json"))
	if err != nil {
		t.Fatal(err)
	}
	var want map[string]string
	if err := json.Unmarshal(raw, &want); err != nil {
		t.Fatal(err)
	}
	types := []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0,
		gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeQ8_K,
		gguf.TypeIQ4_NL, gguf.TypeIQ4_XS}
	checked := map[string]bool{}
	for _, c := range synthCases() {
		for _, tt := range types {
			key := c.name + "/" + tt.String()
			digest, ok := want[key]
			if !ok {
				continue // Q8_K has no imatrix variant
			}
			checked[key] = true
			got := make([]byte, len(c.x)/tt.BlockSize()*tt.TypeSize())
			if err := Quantize(tt, got, c.x, c.cols, c.imatrix); err != nil {
				t.Fatalf("%s: %v", key, err)
			}
			sum := sha256.Sum256(got)
			if hex.EncodeToString(sum[:]) != digest {
				t.Errorf("%s: output differs from ggml's reference quantizer", key)
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
	if len(checked) < 70 {
		t.Errorf("only %d digests checked", len(checked))
	}
}
