package quantize

import (
	"fmt"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
)

// HFSource is a Source over a Hugging Face checkpoint folder: the converter renames, permutes
// and widens each tensor to F32 on demand, so a folder is converted and quantized in one
// streaming pass, with the same result as `convert --outtype f32` followed by quantize (BF16
// and F16 weights widen to F32 exactly).
type HFSource struct {
	src  *convert.Source
	info []gguf.TensorInfo
	buf  []byte
	last int
}

// OpenHF opens the checkpoint folder dir as a Source. threads bounds the converter's goroutines
// (<= 0: all cores). Close it when done.
func OpenHF(dir string, threads int) (*HFSource, error) {
	src, err := convert.OpenSource(dir, convert.Options{OutType: convert.OutF32, Threads: threads})
	if err != nil {
		return nil, invalid(err)
	}
	return &HFSource{src: src, info: src.TensorInfos(), last: -1}, nil
}

// Metadata implements Source: the metadata convert writes for the folder.
func (s *HFSource) Metadata() gguf.Metadata { return s.src.Metadata }

// Tensors implements Source: F32 tensors in GGUF space.
func (s *HFSource) Tensors() []gguf.TensorInfo { return s.info }

// TensorData implements Source. The returned slice is reused by the next call.
func (s *HFSource) TensorData(i int) ([]byte, error) {
	if i < 0 || i >= len(s.info) {
		return nil, fmt.Errorf("hf source: tensor index %d out of range [0, %d)", i, len(s.info))
	}
	if s.last >= 0 {
		s.src.Release(s.last)
	}
	s.last = i
	data, err := s.src.ReadRows(i, 0, int64(s.info[i].Rows()), s.buf)
	if err != nil {
		return nil, fmt.Errorf("hf source: %s: %w", s.info[i].Name, err)
	}
	s.buf = data
	return data, nil
}

// InputSize returns the bytes of the checkpoint's safetensors files.
func (s *HFSource) InputSize() int64 { return s.src.InputSize() }

// Close releases the checkpoint's memory maps.
func (s *HFSource) Close() error { return s.src.Close() }
