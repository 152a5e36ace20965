package f32bytes

import (
	"bytes"
	"encoding/binary"
	"math"
	"testing"
)

// TestOf checks Of against the little-endian encoding, for both the view and the copy path,
// and that the view shares memory with its floats.
func TestOf(t *testing.T) {
	for _, x := range [][]float32{
		nil,
		{},
		{1},
		{0, -1.5, float32(math.Inf(1)), math.SmallestNonzeroFloat32, math.MaxFloat32, float32(math.NaN())},
	} {
		want := make([]byte, 0, 4*len(x))
		for _, v := range x {
			want = binary.LittleEndian.AppendUint32(want, math.Float32bits(v))
		}
		if got := Of(x); !bytes.Equal(got, want) || (len(x) == 0 && got != nil) {
			t.Errorf("Of(%v) = %v, want %v", x, got, want)
		}
		if got := encode(x); !bytes.Equal(got, want) {
			t.Errorf("encode(%v) = %v, want %v", x, got, want)
		}
	}
	if littleEndian {
		x := []float32{1, 2}
		b := Of(x)
		x[1] = -2
		if got := math.Float32frombits(binary.LittleEndian.Uint32(b[4:])); got != -2 {
			t.Errorf("view reads %v after a write of -2 to the floats", got)
		}
	}
}
