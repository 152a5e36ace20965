package convert

import (
	"encoding/binary"
	"fmt"
	"math"
	"sync"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// decodable reports whether tensors of type d can be converted to float32 (as torch's
// .to(torch.float32) would).
func decodable(d safetensors.DType) bool {
	switch d {
	case safetensors.F32, safetensors.F16, safetensors.BF16, safetensors.F64,
		safetensors.F8E4M3, safetensors.F8E5M2, safetensors.F8E8M0, safetensors.BOOL,
		safetensors.U8, safetensors.I8, safetensors.I16, safetensors.U16,
		safetensors.I32, safetensors.U32, safetensors.I64, safetensors.U64:
		return true
	}
	return false
}

// decodeF32 widens len(dst) elements of type d from src (little-endian) into dst.
func decodeF32(dst []float32, src []byte, d safetensors.DType) {
	le := binary.LittleEndian
	switch d {
	case safetensors.F32:
		dtype.DecodeF32(dst, src)
	case safetensors.F16:
		dtype.DecodeF16(dst, src)
	case safetensors.BF16:
		dtype.DecodeBF16(dst, src)
	case safetensors.F64:
		for i := range dst {
			dst[i] = float32(math.Float64frombits(le.Uint64(src[8*i:])))
		}
	case safetensors.F8E4M3:
		for i := range dst {
			dst[i] = dtype.F8E4M3ToF32(src[i])
		}
	case safetensors.F8E5M2:
		for i := range dst {
			dst[i] = dtype.F8E5M2ToF32(src[i])
		}
	case safetensors.F8E8M0:
		for i := range dst {
			if src[i] == 0xff {
				dst[i] = float32(math.NaN())
			} else {
				dst[i] = float32(math.Ldexp(1, int(src[i])-127))
			}
		}
	case safetensors.BOOL, safetensors.U8:
		for i := range dst {
			dst[i] = float32(src[i])
		}
	case safetensors.I8:
		for i := range dst {
			dst[i] = float32(int8(src[i]))
		}
	case safetensors.I16:
		for i := range dst {
			dst[i] = float32(int16(le.Uint16(src[2*i:])))
		}
	case safetensors.U16:
		for i := range dst {
			dst[i] = float32(le.Uint16(src[2*i:]))
		}
	case safetensors.I32:
		for i := range dst {
			dst[i] = float32(int32(le.Uint32(src[4*i:])))
		}
	case safetensors.U32:
		for i := range dst {
			dst[i] = float32(le.Uint32(src[4*i:]))
		}
	case safetensors.I64:
		for i := range dst {
			dst[i] = float32(int64(le.Uint64(src[8*i:])))
		}
	case safetensors.U64:
		for i := range dst {
			dst[i] = float32(le.Uint64(src[8*i:]))
		}
	default:
		panic(fmt.Sprintf("convert: decodeF32: unsupported dtype %s (checked when planning)", d))
	}
}

// encodeFrom narrows float32 values into dst in the GGUF type t (F32, F16 or BF16).
func encodeFrom(dst []byte, src []float32, t gguf.TensorType) {
	switch t {
	case gguf.TypeF32:
		dtype.EncodeF32(dst, src)
	case gguf.TypeF16:
		dtype.EncodeF16(dst, src)
	case gguf.TypeBF16:
		dtype.EncodeBF16(dst, src)
	default:
		panic(fmt.Sprintf("convert: encode: unsupported type %s", t))
	}
}

// outSize is the element size of the unquantized GGUF types we write.
func outSize(t gguf.TensorType) int64 { return int64(t.TypeSize()) }

// table16 maps every 16-bit input pattern of type st to its output in type tt, computed by the
// exact path (widen to float32, narrow): a lookup per element instead of the float arithmetic.
type table16 = [1 << 16]uint16

var (
	tablesMu sync.Mutex
	tables   = map[[2]string]*table16{}
)

// table16For returns the lookup table of a 16-bit to 16-bit conversion, building it once.
func table16For(st safetensors.DType, tt gguf.TensorType) *table16 {
	key := [2]string{string(st), tt.String()}
	tablesMu.Lock()
	defer tablesMu.Unlock()
	if t, ok := tables[key]; ok {
		return t
	}
	t := new(table16)
	src := make([]byte, 2*len(t))
	for i := range t {
		binary.LittleEndian.PutUint16(src[2*i:], uint16(i))
	}
	vals := make([]float32, len(t))
	decodeF32(vals, src, st)
	dst := make([]byte, 2*len(t))
	encodeFrom(dst, vals, tt)
	for i := range t {
		t[i] = binary.LittleEndian.Uint16(dst[2*i:])
	}
	tables[key] = t
	return t
}

// lookup16 converts 16-bit elements through a table.
func lookup16(dst, src []byte, t *table16) {
	n := len(dst) / 2
	if n == 0 {
		return
	}
	_, _ = src[2*n-1], dst[2*n-1]
	for i := 0; i < n; i++ {
		v := uint16(src[2*i]) | uint16(src[2*i+1])<<8
		o := t[v]
		dst[2*i] = byte(o)
		dst[2*i+1] = byte(o >> 8)
	}
}

// convertElems converts the elements of src (type st) into dst (type tt), through scratch.
// F16 to F16 and F32 to F32 are copies, as in llama.cpp; everything else goes through float32,
// which is what llama.cpp does (torch .to(float32), then numpy's narrowing).
func convertElems(dst []byte, tt gguf.TensorType, src []byte, st safetensors.DType, scratch []float32) {
	if (st == safetensors.F16 && tt == gguf.TypeF16) || (st == safetensors.F32 && tt == gguf.TypeF32) {
		copy(dst, src)
		return
	}
	in, out := int64(st.Size()), outSize(tt)
	if in == 2 && out == 2 {
		lookup16(dst, src, table16For(st, tt))
		return
	}
	n := int64(len(dst)) / out
	for i := int64(0); i < n; {
		k := min(n-i, int64(len(scratch)))
		decodeF32(scratch[:k], src[i*in:(i+k)*in], st)
		encodeFrom(dst[i*out:(i+k)*out], scratch[:k], tt)
		i += k
	}
}
