package quantize

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIQMixesMatchLlamaQuantize quantizes the fixture teacher to every codebook and ternary mix
// with the importance matrix of testdata/iq/imatrix.gguf (the fixture's training text) and
// compares the SHA-256 of each file with llama.cpp's (testdata/iq/digests.txt, from the
// snapshot's llama_model_quantize; see testdata/iq/README.md). llama-quantize records the
// imatrix path it was given, "imatrix.gguf", in the metadata, so the same name is passed here.
// With -short only four mixes run (the IQ quantizers take seconds per mix).
func TestIQMixesMatchLlamaQuantize(t *testing.T) {
	in := filepath.Join(llamaDir(t), "gguf", "teacher-F32.gguf")
	if _, err := os.Stat(in); err != nil {
		t.Skip("fixture teacher absent")
	}
	f, err := os.Open(filepath.Join("testdata", "iq", "digests.txt"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	im, err := ReadImatrix(filepath.Join("testdata", "iq", "imatrix.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	short := map[string]bool{"TQ1_0": true, "TQ2_0": true, "IQ2_XS": true, "IQ3_S": true}
	out := t.TempDir()
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			t.Fatalf("digests.txt: bad line %q", sc.Text())
		}
		want, name := fields[0], fields[1]
		n++
		t.Run(name, func(t *testing.T) {
			if testing.Short() && !short[name] {
				t.Skip("-short")
			}
			mix, err := ParseMix(name)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join(out, name+".gguf")
			if _, err := QuantizeFile(context.Background(), in, path, Options{Mix: mix, Imatrix: im, ImatrixFile: "imatrix.gguf"}); err != nil {
				t.Fatal(err)
			}
			got, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			sum := sha256.Sum256(got)
			if hex.EncodeToString(sum[:]) != want {
				t.Errorf("output differs from llama-quantize's (sha256 %x, want %s)", sum, want)
			}
		})
	}
	if n != 12 {
		t.Errorf("%d mixes in digests.txt, want 12", n)
	}
}
