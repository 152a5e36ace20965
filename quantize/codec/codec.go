package codec

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// Codec quantizes and dequantizes one ggml storage type. Implementations are stateless and safe
// for concurrent use; they allocate nothing per call.
type Codec interface {
	// BlockSize returns the number of weights per block (1 for F32, F16 and BF16).
	BlockSize() int
	// TypeSize returns the number of bytes per block.
	TypeSize() int
	// QuantizeRow encodes one row src into dst. len(src) must be a multiple of BlockSize and
	// len(dst) must be len(src)/BlockSize*TypeSize. imatrix is nil or holds one importance
	// weight per column (len(imatrix) == len(src)); it must not be nil for the types for which
	// RequiresImatrix is true. Some types use statistics of the whole row when imatrix is given,
	// so pass whole rows. Inputs must be finite.
	QuantizeRow(dst []byte, src, imatrix []float32)
	// DequantizeRow decodes len(dst)/BlockSize blocks from src into dst, bit for bit as ggml's
	// dequantize_row_* functions.
	DequantizeRow(dst []float32, src []byte)
}

// ID is the constraint of ggml type ids: the numbers of ggml.h's enum ggml_type, which GGUF
// stores in its tensor infos. gguf.TensorType satisfies it (and gives the ids their names), so
// callers pass their own type without the codecs importing the file format.
type ID interface{ ~uint32 }

// codecs is the one table of every type the codecs can quantize and dequantize, keyed by ggml
// type id. Each value is defined in the type's own file.
var codecs = map[uint32]Codec{
	0:  f32Codec{},  // F32
	1:  f16Codec{},  // F16
	30: bf16Codec{}, // BF16
	2:  q4_0{},      // Q4_0
	3:  q4_1{},      // Q4_1
	6:  q5_0{},      // Q5_0
	7:  q5_1{},      // Q5_1
	8:  q8_0{},      // Q8_0
	10: q2K{},       // Q2_K
	11: q3K{},       // Q3_K
	12: q4K{},       // Q4_K
	13: q5K{},       // Q5_K
	14: q6K{},       // Q6_K
	15: q8K{},       // Q8_K
	20: iq4NL{},     // IQ4_NL
	23: iq4XS{},     // IQ4_XS
	16: iq2XXS{},    // IQ2_XXS
	17: iq2XS{},     // IQ2_XS
	18: iq3XXS{},    // IQ3_XXS
	19: iq1S{},      // IQ1_S
	21: iq3S{},      // IQ3_S
	22: iq2S{},      // IQ2_S
	29: iq1M{},      // IQ1_M
	34: tq1_0{},     // TQ1_0
	35: tq2_0{},     // TQ2_0
}

// needsImatrix is embedded by the codecs whose quantizer requires importance weights.
type needsImatrix struct{}

func (needsImatrix) requiresImatrix() {}

// RequiresImatrix reports whether the quantizer of type t needs an importance matrix (ggml's
// ggml_quantize_requires_imatrix: IQ2_XXS, IQ2_XS and IQ1_S); Quantize refuses them without.
func RequiresImatrix[T ID](t T) bool {
	_, ok := codecs[uint32(t)].(interface{ requiresImatrix() })
	return ok
}

// Lookup returns the codec of type t.
func Lookup[T ID](t T) (Codec, bool) {
	c, ok := codecs[uint32(t)]
	return c, ok
}

// Types returns every type with a codec, in id order, as the caller's id type.
func Types[T ID]() []T {
	out := make([]T, 0, len(codecs))
	for t := range codecs {
		out = append(out, T(t))
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// RowSize returns the bytes of n weights of codec c. n must be a multiple of c.BlockSize().
func RowSize(c Codec, n int) int { return n / c.BlockSize() * c.TypeSize() }

// ErrNonFinite is wrapped by errors about NaN or infinite input values.
var ErrNonFinite = errors.New("non-finite value")

// checkGeometry validates the lengths for rows of nPerRow weights of type t (codec c).
func checkGeometry[T ID](t T, c Codec, nPerRow, nWeights, nBytes int) error {
	if nPerRow <= 0 || nPerRow%c.BlockSize() != 0 {
		return fmt.Errorf("quantize: %v: row length %d is not a positive multiple of the block size %d", t, nPerRow, c.BlockSize())
	}
	if nWeights%nPerRow != 0 {
		return fmt.Errorf("quantize: %v: %d weights are not a whole number of rows of %d", t, nWeights, nPerRow)
	}
	if want := RowSize(c, nWeights); nBytes != want {
		return fmt.Errorf("quantize: %v: %d weights need %d bytes, buffer has %d", t, nWeights, want, nBytes)
	}
	return nil
}

// Quantize encodes rows of nPerRow weights from src into dst as type t. imatrix is nil or holds
// nPerRow importance weights (one per column), shared by all rows. It returns an error for an
// unknown type, mismatched lengths, or a NaN/Inf input or weight.
func Quantize[T ID](t T, dst []byte, src []float32, nPerRow int, imatrix []float32) error {
	c, ok := Lookup(t)
	if !ok {
		return fmt.Errorf("quantize: no codec for type %v", t)
	}
	if err := checkGeometry(t, c, nPerRow, len(src), len(dst)); err != nil {
		return err
	}
	if imatrix == nil && RequiresImatrix(t) {
		return fmt.Errorf("quantize: %v requires an importance matrix", t)
	}
	if imatrix != nil && len(imatrix) != nPerRow {
		return fmt.Errorf("quantize: %v: importance matrix has %d weights for rows of %d", t, len(imatrix), nPerRow)
	}
	if i := FirstNonFinite(src); i >= 0 {
		return fmt.Errorf("quantize: %v: input %d (row %d, column %d) is %v: %w", t, i, i/nPerRow, i%nPerRow, src[i], ErrNonFinite)
	}
	if i := FirstNonFinite(imatrix); i >= 0 {
		return fmt.Errorf("quantize: %v: importance weight %d is %v: %w", t, i, imatrix[i], ErrNonFinite)
	}
	rowBytes := RowSize(c, nPerRow)
	for r := 0; r < len(src)/nPerRow; r++ {
		c.QuantizeRow(dst[r*rowBytes:(r+1)*rowBytes], src[r*nPerRow:(r+1)*nPerRow], imatrix)
	}
	return nil
}

// Dequantize decodes src, whole blocks of type t, into dst (len(dst) weights).
func Dequantize[T ID](t T, dst []float32, src []byte) error {
	c, ok := Lookup(t)
	if !ok {
		return fmt.Errorf("quantize: no codec for type %v", t)
	}
	if len(dst)%c.BlockSize() != 0 {
		return fmt.Errorf("quantize: %v: %d weights are not whole blocks of %d", t, len(dst), c.BlockSize())
	}
	if want := RowSize(c, len(dst)); len(src) != want {
		return fmt.Errorf("quantize: %v: %d weights need %d bytes, got %d", t, len(dst), want, len(src))
	}
	c.DequantizeRow(dst, src)
	return nil
}

// FirstNonFinite returns the index of the first NaN or infinity in x, or -1.
func FirstNonFinite(x []float32) int {
	for i, v := range x {
		if math.Float32bits(v)&0x7f800000 == 0x7f800000 {
			return i
		}
	}
	return -1
}
