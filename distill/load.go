package distill

import (
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime"
)

// LoadModel reads a model from a Hugging Face checkpoint folder (safetensors in F32, F16 or
// BF16 plus config.json and the tokenizer) or from a GGUF file. GGUF weights of any type the
// quantize package decodes are accepted (F32, F16 and BF16 load exactly; quantized ones are
// dequantized). Folders go through the converter, so the parameters arrive renamed and
// permuted as in GGUF and the Metadata is what the converter would write.
func LoadModel(path string) (*Model, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, badInputf("%s: %v", path, err)
	}
	if st.IsDir() {
		return loadHF(path)
	}
	return loadGGUF(path)
}

// loadHF reads a Hugging Face folder through convert.OpenSource.
func loadHF(dir string) (*Model, error) {
	src, err := convert.OpenSource(dir, convert.Options{OutType: convert.OutF32})
	if err != nil {
		return nil, fmt.Errorf("distill: %w: %s: %w", ErrBadInput, dir, err)
	}
	defer src.Close()
	m, err := NewModel(src.Config, slices.Clone(src.Metadata))
	if err != nil {
		return nil, fmt.Errorf("distill: %w: %s: %w", ErrBadInput, dir, err)
	}
	for i, t := range src.Tensors {
		if t.Name == "rope_freqs.weight" {
			v, err := src.ReadRowsF32(i, 0, t.Rows(), nil)
			if err != nil {
				return nil, fmt.Errorf("distill: %s: tensor %q: %w", dir, t.Name, err)
			}
			m.RopeFactors = v
			continue
		}
		p := m.Params.Get(t.Name)
		if p == nil {
			return nil, badInputf("%s: tensor %q (from %q) is not a parameter of a %s model with this config", dir, t.Name, t.HFName, src.Config.Arch)
		}
		if !sameShape(p.Shape, t.Dims) {
			return nil, badInputf("%s: tensor %q has shape %v, the config wants %v", dir, t.HFName, reversed(t.Dims), p.Shape)
		}
		if _, err := src.ReadRowsF32(i, 0, t.Rows(), p.Data[:0]); err != nil {
			return nil, fmt.Errorf("distill: %s: tensor %q: %w", dir, t.HFName, err)
		}
		src.Release(i)
	}
	have := make(map[string]bool, len(src.Tensors))
	for _, t := range src.Tensors {
		have[t.Name] = true
	}
	if err := m.checkLoaded(dir, func(name string) bool { return have[name] }); err != nil {
		return nil, err
	}
	m.bind()
	return m, nil
}

// loadGGUF reads a GGUF file, dequantizing every tensor to float32.
func loadGGUF(path string) (*Model, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("distill: %w: %w", ErrBadInput, err)
	}
	defer f.Close()
	cfg, err := convert.ConfigFromGGUF(f.Metadata, f.Tensors)
	if err != nil {
		return nil, badInputf("%s: %v", path, err)
	}
	m, err := NewModel(cfg, slices.Clone(f.Metadata))
	if err != nil {
		return nil, fmt.Errorf("distill: %w: %s: %w", ErrBadInput, path, err)
	}
	for i, t := range f.Tensors {
		var dst []float32
		if t.Name == "rope_freqs.weight" {
			if t.NumElements() > uint64(cfg.RopeDim) {
				return nil, badInputf("%s: tensor %q has %d elements, want at most %d", path, t.Name, t.NumElements(), cfg.RopeDim/2)
			}
			m.RopeFactors = make([]float32, t.NumElements())
			dst = m.RopeFactors
		} else {
			p := m.Params.Get(t.Name)
			if p == nil {
				return nil, badInputf("%s: tensor %q is not a parameter of a %s model with this config", path, t.Name, cfg.Arch)
			}
			if !sameShape(p.Shape, t.Dims) {
				return nil, badInputf("%s: tensor %q has GGUF dims %v, the config wants %v", path, t.Name, t.Dims, reversed64(p.Shape))
			}
			dst = p.Data
		}
		if err := quantize.Dequantize(t.Type, dst, f.TensorData(i)); err != nil {
			return nil, badInputf("%s: tensor %q (%s): %v", path, t.Name, t.Type, err)
		}
	}
	if err := m.checkLoaded(path, func(name string) bool { _, ok := f.TensorIndex(name); return ok }); err != nil {
		return nil, err
	}
	m.bind()
	return m, nil
}

// checkLoaded reports a parameter the file did not provide.
func (m *Model) checkLoaded(path string, has func(name string) bool) error {
	var missing []string
	for _, p := range m.Params.List() {
		if !has(p.Name) {
			missing = append(missing, p.Name)
		}
	}
	if len(missing) > 0 {
		if len(missing) > 4 {
			missing = append(missing[:4], "…")
		}
		return badInputf("%s: tensors missing: %s", path, strings.Join(missing, ", "))
	}
	return nil
}

// sameShape reports whether a PyTorch-order shape equals reversed GGUF dims.
func sameShape(shape []int, dims []uint64) bool {
	if len(shape) != len(dims) {
		return false
	}
	for i, d := range dims {
		if uint64(shape[len(shape)-1-i]) != d {
			return false
		}
	}
	return true
}

// reversed returns GGUF dims in PyTorch order.
func reversed(dims []uint64) []int {
	out := make([]int, len(dims))
	for i, d := range dims {
		out[len(dims)-1-i] = int(d)
	}
	return out
}

// reversed64 returns a PyTorch shape as GGUF dims.
func reversed64(shape []int) []uint64 {
	out := make([]uint64, len(shape))
	for i, d := range shape {
		out[len(shape)-1-i] = uint64(d)
	}
	return out
}

// Runtime returns an inference model (package runtime) that uses the model's current weights in
// place, for teacher logits, validation through the runtime or generation. The weights must not
// change while it is in use; Close it when done.
func (m *Model) Runtime(threads int) (*runtime.Model, error) {
	ts := make(map[string]runtime.Tensor, m.Params.Len()+1)
	for _, p := range m.Params.List() {
		dims := make([]int, len(p.Shape))
		for i, d := range p.Shape {
			dims[len(p.Shape)-1-i] = d
		}
		ts[p.Name] = runtime.Tensor{Dims: dims, Data: p.Data}
	}
	if m.RopeFactors != nil {
		ts["rope_freqs.weight"] = runtime.Tensor{Dims: []int{len(m.RopeFactors)}, Data: m.RopeFactors}
	}
	rm, err := runtime.FromTensors(m.Config, ts, m.Metadata, runtime.Options{Threads: threads})
	if err != nil {
		return nil, fmt.Errorf("distill: %w", err)
	}
	return rm, nil
}

// ReadModelInfo returns the configuration and GGUF metadata (tokenizer included) of the model
// at path, a GGUF file or a Hugging Face folder, without reading its weights.
func ReadModelInfo(path string) (convert.Config, gguf.Metadata, error) {
	st, err := os.Stat(path)
	if err != nil {
		return convert.Config{}, nil, badInputf("%s: %v", path, err)
	}
	if st.IsDir() {
		src, err := convert.OpenSource(path, convert.Options{OutType: convert.OutF32})
		if err != nil {
			return convert.Config{}, nil, fmt.Errorf("distill: %w: %s: %w", ErrBadInput, path, err)
		}
		defer src.Close()
		return src.Config, slices.Clone(src.Metadata), nil
	}
	f, err := gguf.Open(path)
	if err != nil {
		return convert.Config{}, nil, fmt.Errorf("distill: %w: %w", ErrBadInput, err)
	}
	defer f.Close()
	cfg, err := convert.ConfigFromGGUF(f.Metadata, f.Tensors)
	if err != nil {
		return convert.Config{}, nil, badInputf("%s: %v", path, err)
	}
	return cfg, slices.Clone(f.Metadata), nil
}
