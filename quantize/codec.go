package quantize

import (
	"errors"
	"fmt"
	"math"
	"sort"

	"github.com/mcompress/mcompress/convert/gguf"
)

// Codec quantizes and dequantizes one ggml storage type. Implementations are stateless and safe
// for concurrent use; they allocate nothing per call.
type Codec interface {
	// Type returns the ggml type id.
	Type() gguf.TensorType
	// BlockSize returns the number of weights per block (1 for F32, F16 and BF16).
	BlockSize() int
	// TypeSize returns the number of bytes per block.
	TypeSize() int
	// QuantizeRow encodes one row src into dst. len(src) must be a multiple of BlockSize and
	// len(dst) must be len(src)/BlockSize*TypeSize. imatrix is nil or holds one importance
	// weight per column (len(imatrix) == len(src)). Some types use statistics of the whole row
	// when imatrix is given, so pass whole rows. Inputs must be finite.
	QuantizeRow(dst []byte, src, imatrix []float32)
	// DequantizeRow decodes len(dst)/BlockSize blocks from src into dst, bit for bit as ggml's
	// dequantize_row_* functions.
	DequantizeRow(dst []float32, src []byte)
}

// codecs is the one table of every type this package can quantize and dequantize, keyed by
// ggml type id. Each value is defined in the type's own file.
var codecs = map[gguf.TensorType]Codec{
	gguf.TypeF32:    f32Codec{},
	gguf.TypeF16:    f16Codec{},
	gguf.TypeBF16:   bf16Codec{},
	gguf.TypeQ4_0:   q4_0{},
	gguf.TypeQ4_1:   q4_1{},
	gguf.TypeQ5_0:   q5_0{},
	gguf.TypeQ5_1:   q5_1{},
	gguf.TypeQ8_0:   q8_0{},
	gguf.TypeQ2_K:   q2K{},
	gguf.TypeQ3_K:   q3K{},
	gguf.TypeQ4_K:   q4K{},
	gguf.TypeQ5_K:   q5K{},
	gguf.TypeQ6_K:   q6K{},
	gguf.TypeQ8_K:   q8K{},
	gguf.TypeIQ4_NL: iq4NL{},
	gguf.TypeIQ4_XS: iq4XS{},
}

// Lookup returns the codec of type t.
func Lookup(t gguf.TensorType) (Codec, bool) {
	c, ok := codecs[t]
	return c, ok
}

// Types returns every type with a codec, in id order.
func Types() []gguf.TensorType {
	out := make([]gguf.TensorType, 0, len(codecs))
	for t := range codecs {
		out = append(out, t)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// ErrNonFinite is wrapped by errors about NaN or infinite input values.
var ErrNonFinite = errors.New("non-finite value")

// checkGeometry validates the lengths for nRows rows of nPerRow weights of type c.
func checkGeometry(c Codec, nPerRow, nWeights, nBytes int) error {
	t := c.Type()
	if nPerRow <= 0 || nPerRow%c.BlockSize() != 0 {
		return fmt.Errorf("quantize: %s: row length %d is not a positive multiple of the block size %d", t, nPerRow, c.BlockSize())
	}
	if nWeights%nPerRow != 0 {
		return fmt.Errorf("quantize: %s: %d weights are not a whole number of rows of %d", t, nWeights, nPerRow)
	}
	if want := nWeights / c.BlockSize() * c.TypeSize(); nBytes != want {
		return fmt.Errorf("quantize: %s: %d weights need %d bytes, buffer has %d", t, nWeights, want, nBytes)
	}
	return nil
}

// Quantize encodes rows of nPerRow weights from src into dst as type t. imatrix is nil or holds
// nPerRow importance weights (one per column), shared by all rows. It returns an error for an
// unknown type, mismatched lengths, or a NaN/Inf input or weight.
func Quantize(t gguf.TensorType, dst []byte, src []float32, nPerRow int, imatrix []float32) error {
	c, ok := Lookup(t)
	if !ok {
		return fmt.Errorf("quantize: no codec for type %s", t)
	}
	if err := checkGeometry(c, nPerRow, len(src), len(dst)); err != nil {
		return err
	}
	if imatrix != nil && len(imatrix) != nPerRow {
		return fmt.Errorf("quantize: %s: importance matrix has %d weights for rows of %d", t, len(imatrix), nPerRow)
	}
	if i := firstNonFinite(src); i >= 0 {
		return fmt.Errorf("quantize: %s: input %d (row %d, column %d) is %v: %w", t, i, i/nPerRow, i%nPerRow, src[i], ErrNonFinite)
	}
	if i := firstNonFinite(imatrix); i >= 0 {
		return fmt.Errorf("quantize: %s: importance weight %d is %v: %w", t, i, imatrix[i], ErrNonFinite)
	}
	rowBytes := nPerRow / c.BlockSize() * c.TypeSize()
	for r := 0; r < len(src)/nPerRow; r++ {
		c.QuantizeRow(dst[r*rowBytes:(r+1)*rowBytes], src[r*nPerRow:(r+1)*nPerRow], imatrix)
	}
	return nil
}

// Dequantize decodes src, whole blocks of type t, into dst (len(dst) weights).
func Dequantize(t gguf.TensorType, dst []float32, src []byte) error {
	c, ok := Lookup(t)
	if !ok {
		return fmt.Errorf("quantize: no codec for type %s", t)
	}
	if len(dst)%c.BlockSize() != 0 {
		return fmt.Errorf("quantize: %s: %d weights are not whole blocks of %d", t, len(dst), c.BlockSize())
	}
	if want := len(dst) / c.BlockSize() * c.TypeSize(); len(src) != want {
		return fmt.Errorf("quantize: %s: %d weights need %d bytes, got %d", t, len(dst), want, len(src))
	}
	c.DequantizeRow(dst, src)
	return nil
}

// firstNonFinite returns the index of the first NaN or infinity in x, or -1.
func firstNonFinite(x []float32) int {
	for i, v := range x {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}
