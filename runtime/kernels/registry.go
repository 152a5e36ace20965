package kernels

import (
	"fmt"
	"os"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize/codec"
)

// typeKernel is what the package knows about one weight type.
type typeKernel struct {
	act   ActKind
	dotGo func(w []byte, r *row) float32 // pure-Go dot product of one weight row
	dot   func(w []byte, r *row) float32 // fastest available dot product (SIMD or dotGo)
	// dot4, when set, computes the dot products of one weight row with four consecutive
	// tokens' activations at once (r is the first token's row; the others follow it in
	// memory), reusing the unpacked weights; n is the row length.
	dot4 func(w []byte, r *row, n int, out *[4]float32)
	// tile4, when set, multiplies four consecutive weight rows (w holds them, rb bytes apart)
	// with four consecutive tokens (r is the first token's row; n the row length), writing
	// token t's result for row i to out[t*os+i].
	tile4 func(w []byte, rb int, r *row, n int, out []float32, os int)
	// g16, when set, is the 16-token path for batches of at least groupMin tokens.
	g16 *groupKernel
	// codec is the type's entry in the codec table: block geometry and dequantization.
	codec codec.Codec
}

// kernels maps each supported weight type to its kernels. SIMD versions are installed by
// init functions in the architecture-specific files; block geometry and dequantization come
// from the type's codec (package quantize/codec), which init looks up.
var kernels = map[gguf.TensorType]*typeKernel{
	gguf.TypeF32:     {act: ActF32, dotGo: dotF32Row},
	gguf.TypeF16:     {act: ActF32, dotGo: dotF16Row},
	gguf.TypeBF16:    {act: ActF32, dotGo: dotBF16Row},
	gguf.TypeQ4_0:    {act: ActQ8, dotGo: dotQ4_0Go},
	gguf.TypeQ4_1:    {act: ActQ8, dotGo: dotQ4_1Go},
	gguf.TypeQ5_0:    {act: ActQ8, dotGo: dotQ5_0Go},
	gguf.TypeQ5_1:    {act: ActQ8, dotGo: dotQ5_1Go},
	gguf.TypeQ8_0:    {act: ActQ8, dotGo: dotQ8_0Go},
	gguf.TypeIQ4_NL:  {act: ActQ8, dotGo: dotIQ4_NLGo},
	gguf.TypeQ2_K:    {act: ActQ8K, dotGo: dotQ2_KGo},
	gguf.TypeQ3_K:    {act: ActQ8K, dotGo: dotQ3_KGo},
	gguf.TypeQ4_K:    {act: ActQ8K, dotGo: dotQ4_KGo},
	gguf.TypeQ5_K:    {act: ActQ8K, dotGo: dotQ5_KGo},
	gguf.TypeQ6_K:    {act: ActQ8K, dotGo: dotQ6_KGo},
	gguf.TypeIQ4_XS:  {act: ActQ8K, dotGo: dotIQ4_XSGo},
	gguf.TypeIQ2_XXS: {act: ActQ8K, dotGo: dotIntsGo(gguf.TypeIQ2_XXS)},
	gguf.TypeIQ2_XS:  {act: ActQ8K, dotGo: dotIntsGo(gguf.TypeIQ2_XS)},
	gguf.TypeIQ2_S:   {act: ActQ8K, dotGo: dotIntsGo(gguf.TypeIQ2_S)},
	gguf.TypeIQ3_XXS: {act: ActQ8K, dotGo: dotIntsGo(gguf.TypeIQ3_XXS)},
	gguf.TypeIQ3_S:   {act: ActQ8K, dotGo: dotIntsGo(gguf.TypeIQ3_S)},
	gguf.TypeIQ1_S:   {act: ActQ8K, dotGo: dotIntsGo(gguf.TypeIQ1_S)},
	gguf.TypeIQ1_M:   {act: ActQ8K, dotGo: dotIntsGo(gguf.TypeIQ1_M)},
	gguf.TypeTQ1_0:   {act: ActQ8K, dotGo: dotIntsGo(gguf.TypeTQ1_0)},
	gguf.TypeTQ2_0:   {act: ActQ8K, dotGo: dotIntsGo(gguf.TypeTQ2_0)},
}

// UsePureGo forces the pure-Go kernels even where SIMD versions exist. It is initialised from
// the environment variable MCOMPRESS_PUREGO ("1" or "true") and may be changed between calls
// (not concurrently with them).
var UsePureGo = os.Getenv("MCOMPRESS_PUREGO") == "1" || os.Getenv("MCOMPRESS_PUREGO") == "true"

// simdName names the SIMD level in use ("" for none); set by the architecture files.
var simdName string

// SIMD returns the name of the instruction set the kernels use: "avx512", "avx2" (amd64),
// "neon-dotprod", "neon" (arm64, with or without SDOT) or "purego".
func SIMD() string {
	if UsePureGo || simdName == "" {
		return "purego"
	}
	return simdName
}

func init() {
	for t, k := range kernels {
		if k.dot == nil {
			k.dot = k.dotGo
		}
		c, ok := codec.Lookup(t)
		if !ok {
			panic(fmt.Sprintf("kernels: %s has a dot product but no codec", t))
		}
		k.codec = c
	}
}

// Supported reports whether weights of type t can be multiplied and dequantized.
func Supported(t gguf.TensorType) bool { _, ok := kernels[t]; return ok }

// SupportedTypes lists the supported weight types in id order.
func SupportedTypes() []gguf.TensorType {
	var out []gguf.TensorType
	for _, t := range gguf.AllTypes() {
		if Supported(t) {
			out = append(out, t)
		}
	}
	return out
}

// ActKindOf returns the activation format that weights of type t are multiplied with.
func ActKindOf(t gguf.TensorType) (ActKind, error) {
	k, ok := kernels[t]
	if !ok {
		return 0, fmt.Errorf("kernels: no kernel for tensor type %s", t)
	}
	return k.act, nil
}

// DequantizeRow expands n = len(dst) values of type t from src to float32 with the type's
// codec. n must be a multiple of the type's block size and src exactly the row's bytes.
func DequantizeRow(t gguf.TensorType, dst []float32, src []byte) error {
	k, ok := kernels[t]
	if !ok {
		return fmt.Errorf("kernels: no dequantizer for tensor type %s", t)
	}
	if len(dst)%k.codec.BlockSize() != 0 {
		return fmt.Errorf("kernels: %s row of %d values is not whole blocks of %d", t, len(dst), k.codec.BlockSize())
	}
	if want := codec.RowSize(k.codec, len(dst)); len(src) != want {
		return fmt.Errorf("kernels: %s row of %d values needs %d bytes, got %d", t, len(dst), want, len(src))
	}
	k.codec.DequantizeRow(dst, src)
	return nil
}

func (k *typeKernel) dotFn() func(w []byte, r *row) float32 {
	if UsePureGo {
		return k.dotGo
	}
	return k.dot
}

func (k *typeKernel) dot4Fn() func(w []byte, r *row, n int, out *[4]float32) {
	if UsePureGo {
		return nil
	}
	return k.dot4
}

func (k *typeKernel) g16Fn() *groupKernel {
	if UsePureGo {
		return nil
	}
	return k.g16
}

func (k *typeKernel) tile4Fn() func(w []byte, rb int, r *row, n int, out []float32, os int) {
	if UsePureGo {
		return nil
	}
	return k.tile4
}
