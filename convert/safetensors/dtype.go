package safetensors

import "fmt"

// DType is a safetensors element type, spelled as in the header ("BF16", "F8_E4M3", ...).
type DType string

// The element types of the safetensors format (huggingface/safetensors, Dtype enum).
const (
	BOOL    DType = "BOOL"    // one byte, 0 or 1
	F4      DType = "F4"      // 4-bit float (E2M1), two per byte
	F6E2M3  DType = "F6_E2M3" // 6-bit float, packed
	F6E3M2  DType = "F6_E3M2" // 6-bit float, packed
	U8      DType = "U8"      // unsigned 8-bit integer
	I8      DType = "I8"      // signed 8-bit integer
	F8E5M2  DType = "F8_E5M2" // 8-bit float, 5 exponent bits
	F8E4M3  DType = "F8_E4M3" // 8-bit float, 4 exponent bits (the "fn" variant)
	F8E8M0  DType = "F8_E8M0" // 8-bit power-of-two scale
	I16     DType = "I16"     // signed 16-bit integer
	U16     DType = "U16"     // unsigned 16-bit integer
	F16     DType = "F16"     // IEEE binary16
	BF16    DType = "BF16"    // bfloat16
	I32     DType = "I32"     // signed 32-bit integer
	U32     DType = "U32"     // unsigned 32-bit integer
	F32     DType = "F32"     // IEEE binary32
	C64     DType = "C64"     // complex64: two F32
	F64     DType = "F64"     // IEEE binary64
	I64     DType = "I64"     // signed 64-bit integer
	U64     DType = "U64"     // unsigned 64-bit integer
	invalid DType = ""
)

// dtypeBits lists every known type with its width in bits, in the order of the Rust crate's
// Dtype enum (which orders tensors of different types in files it writes).
var dtypeOrder = []struct {
	t    DType
	bits int
}{
	{BOOL, 8}, {F4, 4}, {F6E2M3, 6}, {F6E3M2, 6}, {U8, 8}, {I8, 8}, {F8E5M2, 8}, {F8E4M3, 8},
	{F8E8M0, 8}, {I16, 16}, {U16, 16}, {F16, 16}, {BF16, 16}, {I32, 32}, {U32, 32}, {F32, 32},
	{C64, 64}, {F64, 64}, {I64, 64}, {U64, 64},
}

var dtypeIndex = func() map[DType]int {
	m := make(map[DType]int, len(dtypeOrder))
	for i, d := range dtypeOrder {
		m[d.t] = i
	}
	return m
}()

// ParseDType returns the type named s, which must be spelled exactly as in a header.
func ParseDType(s string) (DType, error) {
	if _, ok := dtypeIndex[DType(s)]; ok {
		return DType(s), nil
	}
	return invalid, fmt.Errorf("unknown dtype %q", s)
}

// Valid reports whether d is a known type.
func (d DType) Valid() bool { _, ok := dtypeIndex[d]; return ok }

// Bits returns the width of one element in bits, or 0 for an unknown type.
func (d DType) Bits() int {
	if i, ok := dtypeIndex[d]; ok {
		return dtypeOrder[i].bits
	}
	return 0
}

// Size returns the width of one element in bytes, or 0 for unknown and sub-byte types.
func (d DType) Size() int {
	if b := d.Bits(); b%8 == 0 {
		return b / 8
	}
	return 0
}

// Rank orders types the way the reference writer does: files it writes hold wider (later)
// types first, then names in byte order within a type. Unknown types rank -1.
func (d DType) Rank() int {
	if i, ok := dtypeIndex[d]; ok {
		return i
	}
	return -1
}

// AllDTypes returns every known type in the reference enum order.
func AllDTypes() []DType {
	out := make([]DType, len(dtypeOrder))
	for i, d := range dtypeOrder {
		out[i] = d.t
	}
	return out
}
