package codec

import (
	"os"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
)

func TestTmpDebug(t *testing.T) {
	want, _ := os.ReadFile(os.Getenv("CREF"))
	tt := gguf.TensorType(21)
	for _, c := range synthCases() {
		if c.name != os.Getenv("CASE") {
			continue
		}
		got := make([]byte, len(want))
		Quantize(tt, got, c.x, c.cols, c.imatrix)
		bs := tt.TypeSize()
		for b := 0; b < len(got)/bs; b++ {
			g, w := got[b*bs:(b+1)*bs], want[b*bs:(b+1)*bs]
			if string(g) != string(w) {
				t.Logf("block %d differs:\n got %x\nwant %x", b, g, w)
			}
		}
	}
}
