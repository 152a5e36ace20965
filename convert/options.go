package convert

import (
	"fmt"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// OutType is the storage type of the converted weights (--outtype).
type OutType string

// The output types llama.cpp's converter offers for unquantized files.
const (
	// OutAuto picks the 16-bit type of the checkpoint's first 2-D tensor: BF16 for bfloat16
	// checkpoints, F16 otherwise (llama.cpp's default, "auto").
	OutAuto OutType = ""
	OutF32  OutType = "f32"
	OutF16  OutType = "f16"
	OutBF16 OutType = "bf16"
)

// ParseOutType parses an --outtype value: f32, f16, bf16 or auto (case-insensitive).
func ParseOutType(s string) (OutType, error) {
	switch strings.ToLower(s) {
	case "", "auto":
		return OutAuto, nil
	case "f32":
		return OutF32, nil
	case "f16":
		return OutF16, nil
	case "bf16":
		return OutBF16, nil
	}
	return OutAuto, fmt.Errorf("%w: unknown output type %q (want f32, f16, bf16 or auto)", ErrBadInput, s)
}

// tensorType returns the ggml type of the weights and the general.file_type value.
func (t OutType) tensorType() (gguf.TensorType, uint32) {
	switch t {
	case OutF32:
		return gguf.TypeF32, 0
	case OutBF16:
		return gguf.TypeBF16, 32
	}
	return gguf.TypeF16, 1
}

// Options configures the conversion of a Hugging Face folder. The zero value converts like
// llama.cpp's convert_hf_to_gguf.py with default flags.
type Options struct {
	// OutType is the storage type of weights with two or more dimensions (norms, biases and other
	// 1-D tensors stay F32, as llama.cpp keeps them). The zero value is OutAuto.
	OutType OutType
	// Name overrides general.name (llama.cpp's --model-name); "" derives it from the README
	// model card, config.json's _name_or_path or the folder name, as llama.cpp does.
	Name string
	// TokenizerPre forces tokenizer.ggml.pre for a byte-level BPE tokenizer whose
	// pre-tokenizer is not recognized (llama.cpp refuses those); "" detects it.
	TokenizerPre string
	// Threads bounds the goroutines converting tensors; <= 0 uses GOMAXPROCS.
	Threads int
	// Progress, when set, is called with the input bytes converted so far and the total.
	Progress func(done, total int64)
	// Warn, when set, receives notes about the input that do not stop the conversion.
	Warn func(msg string)
}

func (o Options) warnf(format string, args ...any) {
	if o.Warn != nil {
		o.Warn(fmt.Sprintf(format, args...))
	}
}

// mdBuilder accumulates GGUF metadata with the semantics of llama.cpp's GGUFWriter: keys keep the
// position of their first addition when set again, empty strings and arrays are not written.
type mdBuilder struct {
	md   gguf.Metadata
	arch string
}

func (b *mdBuilder) key(k string) string { return b.arch + "." + k }

func (b *mdBuilder) set(k string, v any) { b.md.Set(k, v) }

func (b *mdBuilder) str(k, v string) {
	if v != "" {
		b.md.Set(k, v)
	}
}

func (b *mdBuilder) u32(k string, v int) { b.md.Set(k, uint32(v)) }

func (b *mdBuilder) i32(k string, v int) { b.md.Set(k, int32(v)) }

func (b *mdBuilder) f32(k string, v float64) { b.md.Set(k, float32(v)) }

func (b *mdBuilder) boolean(k string, v bool) { b.md.Set(k, v) }

func (b *mdBuilder) strs(k string, v []string) {
	if len(v) > 0 {
		b.md.Set(k, gguf.Array{Type: gguf.ValueString, Values: v})
	}
}

func (b *mdBuilder) remove(k string) { b.md.Delete(k) }
