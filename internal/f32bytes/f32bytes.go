// Package f32bytes gives float32 values as the little-endian bytes GGUF and safetensors store,
// without a copy where the machine is little-endian.
package f32bytes

import (
	"encoding/binary"
	"math"
	"unsafe"
)

// littleEndian reports whether the machine stores a uint16 1 as the bytes 1, 0.
var littleEndian = func() bool {
	var probe uint16 = 1
	return *(*byte)(unsafe.Pointer(&probe)) == 1
}()

// Of returns x as little-endian bytes (4 per value; nil when x is empty). On little-endian
// machines it is a view that shares x's memory: writes through either show in the other, and
// the bytes must not outlive a use of x that would change them unexpectedly. Elsewhere it is a
// copy.
func Of(x []float32) []byte {
	if len(x) == 0 {
		return nil
	}
	if littleEndian {
		return unsafe.Slice((*byte)(unsafe.Pointer(unsafe.SliceData(x))), 4*len(x))
	}
	return encode(x)
}

// encode copies x into little-endian bytes; Of's path on big-endian machines.
func encode(x []float32) []byte {
	b := make([]byte, 0, 4*len(x))
	for _, v := range x {
		b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
	}
	return b
}
