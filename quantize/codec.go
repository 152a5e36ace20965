package quantize

import (
	"math"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize/codec"
)

// The codecs themselves (one file per ggml type, geometry, quantizers and dequantizers) live in
// package quantize/codec, which imports nothing of the pipeline so that the runtime can use
// them; these are the pipeline's names for them, keyed by gguf.TensorType.

// Codec quantizes and dequantizes one ggml storage type; see codec.Codec.
type Codec = codec.Codec

// ErrNonFinite is wrapped by errors about NaN or infinite input values.
var ErrNonFinite = codec.ErrNonFinite

// Lookup returns the codec of type t.
func Lookup(t gguf.TensorType) (Codec, bool) { return codec.Lookup(t) }

// Types returns every type with a codec, in id order.
func Types() []gguf.TensorType { return codec.Types[gguf.TensorType]() }

// Quantize encodes rows of nPerRow weights from src into dst as type t. imatrix is nil or holds
// nPerRow importance weights (one per column), shared by all rows. It returns an error for an
// unknown type, mismatched lengths, or a NaN/Inf input or weight.
func Quantize(t gguf.TensorType, dst []byte, src []float32, nPerRow int, imatrix []float32) error {
	return codec.Quantize(t, dst, src, nPerRow, imatrix)
}

// Dequantize decodes src, whole blocks of type t, into dst (len(dst) weights).
func Dequantize(t gguf.TensorType, dst []float32, src []byte) error {
	return codec.Dequantize(t, dst, src)
}

// firstNonFinite returns the index of the first NaN or infinity in x, or -1.
func firstNonFinite(x []float32) int { return codec.FirstNonFinite(x) }

// abs32 returns |f| by clearing the sign bit.
func abs32(f float32) float32 { return math.Float32frombits(math.Float32bits(f) &^ (1 << 31)) }
