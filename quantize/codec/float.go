package codec

import (
	"encoding/binary"
	"math"

	"github.com/mcompress/mcompress/convert/dtype"
)

// f32Codec stores weights unchanged as little-endian float32.
type f32Codec struct{}

func (f32Codec) BlockSize() int { return 1 }
func (f32Codec) TypeSize() int  { return 4 }

func (f32Codec) QuantizeRow(dst []byte, src, _ []float32) {
	_ = dst[4*len(src)-1]
	for i, v := range src {
		binary.LittleEndian.PutUint32(dst[4*i:], math.Float32bits(v))
	}
}

func (f32Codec) DequantizeRow(dst []float32, src []byte) { dtype.DecodeF32(dst, src) }

// f16Codec stores IEEE half floats, rounded to nearest even as ggml_fp32_to_fp16_row.
type f16Codec struct{}

func (f16Codec) BlockSize() int { return 1 }
func (f16Codec) TypeSize() int  { return 2 }

func (f16Codec) QuantizeRow(dst []byte, src, _ []float32) { dtype.EncodeF16(dst, src) }

func (f16Codec) DequantizeRow(dst []float32, src []byte) { dtype.DecodeF16(dst, src) }

// bf16Codec stores bfloat16, rounded to nearest even as ggml_fp32_to_bf16_row_ref.
type bf16Codec struct{}

func (bf16Codec) BlockSize() int { return 1 }
func (bf16Codec) TypeSize() int  { return 2 }

func (bf16Codec) QuantizeRow(dst []byte, src, _ []float32) {
	_ = dst[2*len(src)-1]
	for i, v := range src {
		binary.LittleEndian.PutUint16(dst[2*i:], dtype.F32ToBF16(v))
	}
}

func (bf16Codec) DequantizeRow(dst []float32, src []byte) { dtype.DecodeBF16(dst, src) }
