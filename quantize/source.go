package quantize

import (
	"fmt"

	"github.com/mcompress/mcompress/convert/gguf"
)

// Source is a model to quantize: metadata, tensor descriptions, and tensor data handed out one
// tensor at a time. Run asks for each tensor once, in llama-quantize's output order (not
// necessarily the order of Tensors), so a source may produce data lazily, e.g. convert a
// safetensors tensor from BF16 or permute its rows on demand.
type Source interface {
	// Metadata returns the model's GGUF key-value pairs, copied to the output.
	Metadata() gguf.Metadata
	// Tensors describes every tensor: Name, Type (the storage type of the data TensorData
	// returns) and Dims in ggml order. Offsets are ignored.
	Tensors() []gguf.TensorInfo
	// TensorData returns the little-endian bytes of tensor i (Tensors()[i].Size() bytes). The
	// slice must stay valid until the next call; it is only read. A source may drop the
	// previous tensor's memory at the next call (Run asks for each tensor once), so that
	// streaming through a large model keeps only about one tensor resident.
	TensorData(i int) ([]byte, error)
}

// GGUFSource is a Source over a memory-mapped GGUF file. Each TensorData call drops the
// resident pages of the tensor asked for before it (gguf.File.Release), as llama-quantize reads
// one tensor at a time, so that the whole input mapping does not stay in the resident set.
type GGUFSource struct {
	// File is the parsed file; its tensor data are slices of the memory map.
	File *gguf.File
	// last is the index of the tensor handed out last, plus one (0: none yet).
	last int
}

// OpenGGUF memory-maps the GGUF file at path as a Source. Close it when done.
func OpenGGUF(path string) (*GGUFSource, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, invalid(err)
	}
	return &GGUFSource{File: f}, nil
}

// Metadata implements Source.
func (s *GGUFSource) Metadata() gguf.Metadata { return s.File.Metadata }

// Tensors implements Source.
func (s *GGUFSource) Tensors() []gguf.TensorInfo { return s.File.Tensors }

// TensorData implements Source: a slice of the memory map, without copying.
func (s *GGUFSource) TensorData(i int) ([]byte, error) {
	if i < 0 || i >= len(s.File.Tensors) {
		return nil, fmt.Errorf("gguf source: tensor index %d out of range [0, %d)", i, len(s.File.Tensors))
	}
	if s.last > 0 && s.last-1 != i {
		s.File.Release(s.last - 1)
	}
	s.last = i + 1
	return s.File.TensorData(i), nil
}

// Close releases the memory map.
func (s *GGUFSource) Close() error { return s.File.Close() }
