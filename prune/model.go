package prune

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/f32bytes"
	"github.com/mcompress/mcompress/runtime"
)

// ErrQuantized marks a quantized GGUF given to a method that needs float weights; it wraps
// ErrBadInput.
var ErrQuantized = fmt.Errorf("%w: quantized weights", ErrBadInput)

// FloatModel is a whole model held in memory as float32 tensors under their GGUF names, in
// GGUF row order (a llama model's Q and K rows permuted as llama.cpp's converter does), with
// its configuration and GGUF metadata (tokenizer included). Runtime builds a runtime.Model over
// the same memory, so weights pruned in place are what the next forward pass computes with.
type FloatModel struct {
	// Config describes the shapes; Save writes it back into the metadata.
	Config convert.Config
	// Metadata is the GGUF metadata (for a Hugging Face folder, what the converter writes).
	Metadata gguf.Metadata
	// Tensors holds every tensor, float32 in ggml order (Dims[0] is the row length).
	Tensors map[string]runtime.Tensor
	// Names lists the tensors in file order.
	Names []string
	// Types is each tensor's storage type in the input (F32, F16 or BF16); Save writes each in
	// its type, and tensors missing from Types as F32.
	Types map[string]gguf.TensorType
	// Path is where the model was read from.
	Path string
}

// LoadFloat reads a model into memory as float32: a Hugging Face folder (safetensors, config.json
// and the tokenizer, through the converter, as `mcompress quantize HF_DIR` reads it; every
// tensor then has type F32) or an F32, F16 or BF16 GGUF file. A GGUF with quantized weights is
// refused with an error wrapping ErrQuantized, which names the first such tensor.
func LoadFloat(path string) (*FloatModel, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("prune: %w: %w", ErrBadInput, err)
	}
	if st.IsDir() {
		return loadHF(path)
	}
	return loadGGUF(path)
}

func newFloatModel(path string, cfg convert.Config, md gguf.Metadata, n int) *FloatModel {
	return &FloatModel{Config: cfg, Metadata: slices.Clone(md), Tensors: make(map[string]runtime.Tensor, n),
		Types: make(map[string]gguf.TensorType, n), Path: path}
}

func (m *FloatModel) add(name string, dims []uint64, t gguf.TensorType, data []float32) {
	d := make([]int, len(dims))
	for i, v := range dims {
		d[i] = int(v)
	}
	m.Tensors[name] = runtime.Tensor{Dims: d, Data: data}
	m.Types[name] = t
	m.Names = append(m.Names, name)
}

func loadHF(dir string) (*FloatModel, error) {
	src, err := convert.OpenSource(dir, convert.Options{OutType: convert.OutF32})
	if err != nil {
		return nil, fmt.Errorf("prune: %w: %s: %w", ErrBadInput, dir, err)
	}
	defer src.Close()
	m := newFloatModel(dir, src.Config, src.Metadata, len(src.Tensors))
	for i, t := range src.Tensors {
		v, err := src.ReadRowsF32(i, 0, t.Rows(), nil)
		if err != nil {
			return nil, fmt.Errorf("prune: %s: tensor %q: %w", dir, t.HFName, err)
		}
		src.Release(i)
		m.add(t.Name, t.Dims, gguf.TypeF32, v)
	}
	return m, nil
}

func loadGGUF(path string) (*FloatModel, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("prune: %w: %w", ErrBadInput, err)
	}
	defer f.Close()
	cfg, err := convert.ConfigFromGGUF(f.Metadata, f.Tensors)
	if err != nil {
		return nil, fmt.Errorf("prune: %w: %s: %w", ErrBadInput, path, err)
	}
	for _, t := range f.Tensors {
		switch t.Type {
		case gguf.TypeF32, gguf.TypeF16, gguf.TypeBF16:
		default:
			return nil, fmt.Errorf("prune: %w: %s: tensor %q is %s; this needs float weights (F32, F16 or BF16): prune the F16/BF16 GGUF or the Hugging Face folder and quantize afterwards (only --drop-layers works on quantized files)", ErrQuantized, path, t.Name, t.Type)
		}
	}
	m := newFloatModel(path, cfg, f.Metadata, len(f.Tensors))
	for i, t := range f.Tensors {
		n := t.NumElements()
		if n == 0 || n > 1<<34 {
			return nil, fmt.Errorf("prune: %w: %s: tensor %q has %d elements", ErrBadInput, path, t.Name, n)
		}
		v := make([]float32, n)
		data := f.TensorData(i)
		switch t.Type {
		case gguf.TypeF32:
			dtype.DecodeF32(v, data)
		case gguf.TypeF16:
			dtype.DecodeF16(v, data)
		case gguf.TypeBF16:
			dtype.DecodeBF16(v, data)
		}
		m.add(t.Name, t.Dims, t.Type, v)
	}
	return m, nil
}

// Runtime builds a runtime.Model over the tensors, used in place (not copied): pruning a
// tensor in place changes what the model computes. The model must not be used after the
// tensors are replaced (DropLayers, a structured prune).
func (m *FloatModel) Runtime(opts runtime.Options) (*runtime.Model, error) {
	return runtime.FromTensors(m.Config, m.Tensors, m.Metadata, opts)
}

// Params returns the number of values in the model's tensors and how many of them are zero.
func (m *FloatModel) Params() (total, zeros int64) {
	for _, t := range m.Tensors {
		total += int64(len(t.Data))
		for _, v := range t.Data {
			if v == 0 {
				zeros++
			}
		}
	}
	return total, zeros
}

// Matrix returns the named 2-D tensor as a Matrix sharing its memory.
func (m *FloatModel) Matrix(name string) (Matrix, error) {
	t, ok := m.Tensors[name]
	if !ok {
		return Matrix{}, fmt.Errorf("%w: tensor %q missing", ErrBadInput, name)
	}
	if len(t.Dims) != 2 {
		return Matrix{}, fmt.Errorf("%w: tensor %q has %d dimensions, want 2", ErrBadInput, name, len(t.Dims))
	}
	return Matrix{Rows: t.Dims[1], Cols: t.Dims[0], Data: t.Data}, nil
}

// DropLayers removes the blocks in drop from the model in memory: their tensors go, the others
// are renumbered, Config.Layers is lowered and the per-layer metadata arrays are cut (as
// PlanDropLayers does for a file).
func (m *FloatModel) DropLayers(drop []int) error {
	blocks := m.Config.Layers
	dropped := make([]bool, blocks)
	for _, d := range drop {
		if d < 0 || d >= blocks {
			return fmt.Errorf("%w: layer %d does not exist (the model has layers 0 to %d)", ErrBadInput, d, blocks-1)
		}
		if dropped[d] {
			return fmt.Errorf("%w: layer %d listed twice", ErrBadInput, d)
		}
		dropped[d] = true
	}
	if len(drop) >= blocks {
		return fmt.Errorf("%w: dropping %d of %d layers leaves none", ErrBadInput, len(drop), blocks)
	}
	var kept []int
	newIndex := make([]int, blocks)
	for b := range blocks {
		newIndex[b] = len(kept)
		if !dropped[b] {
			kept = append(kept, b)
		}
	}
	tensors := make(map[string]runtime.Tensor, len(m.Tensors))
	types := make(map[string]gguf.TensorType, len(m.Types))
	var names []string
	for _, n := range m.Names {
		name := n
		if b, rest, ok := blockOf(n); ok && b < blocks {
			if dropped[b] {
				continue
			}
			name = "blk." + strconv.Itoa(newIndex[b]) + "." + rest
		}
		tensors[name], types[name] = m.Tensors[n], m.Types[n]
		names = append(names, name)
	}
	m.cutLayerArrays(blocks, kept)
	m.Tensors, m.Types, m.Names = tensors, types, names
	m.Config.Layers = len(kept)
	return nil
}

// cutLayerArrays cuts every metadata array under "<arch>." with one entry per block of the old
// block count to the blocks in kept (as PlanDropLayers does for a file).
func (m *FloatModel) cutLayerArrays(blocks int, kept []int) {
	arch := m.Config.Arch + "."
	for i, kv := range m.Metadata {
		if a, ok := kv.Value.(gguf.Array); ok && strings.HasPrefix(kv.Key, arch) && a.Len() == blocks && a.Type != gguf.ValueArray {
			m.Metadata[i].Value = cutArray(a, kept)
		}
	}
}

// shapeMetadata returns md with the shape keys of cfg written in (block count, embedding and
// FFN lengths, head counts, key and value lengths where the file has them), each in the integer
// type the file used.
func shapeMetadata(md gguf.Metadata, cfg convert.Config) gguf.Metadata {
	md = slices.Clone(md)
	a := cfg.Arch + "."
	set := func(key string, v int, always bool) {
		old, ok := md.Lookup(key)
		if !ok && !always {
			return
		}
		md.Set(key, sameIntType(old, uint64(v)))
	}
	set(a+"block_count", cfg.Layers, true)
	set(a+"embedding_length", cfg.Hidden, true)
	set(a+"feed_forward_length", cfg.FFN, true)
	set(a+"attention.head_count", cfg.Heads, true)
	set(a+"attention.head_count_kv", cfg.KVHeads, true)
	explicit := cfg.HeadDim*cfg.Heads != cfg.Hidden // llama.cpp would otherwise derive Hidden/Heads
	set(a+"attention.key_length", cfg.HeadDim, explicit)
	set(a+"attention.value_length", cfg.HeadDim, explicit)
	set(a+"rope.dimension_count", cfg.RopeDim, false)
	return md
}

// WriteGGUF writes the model to path as a GGUF file, each tensor in its type (Types), with the
// metadata's shape keys updated from Config. The file is written atomically.
func (m *FloatModel) WriteGGUF(path string) error {
	md := shapeMetadata(m.Metadata, m.Config)
	infos := make([]gguf.TensorInfo, len(m.Names))
	for i, n := range m.Names {
		t := m.Tensors[n]
		dims := make([]uint64, len(t.Dims))
		for j, d := range t.Dims {
			dims[j] = uint64(d)
		}
		typ := m.Types[n]
		if typ != gguf.TypeF16 && typ != gguf.TypeBF16 {
			typ = gguf.TypeF32
		}
		infos[i] = gguf.TensorInfo{Name: n, Type: typ, Dims: dims}
	}
	err := gguf.WriteFile(path, md, infos, func(w *gguf.Writer) error {
		var buf []byte
		for _, info := range infos {
			data := m.Tensors[info.Name].Data
			var b []byte
			switch info.Type {
			case gguf.TypeF32:
				b = f32bytes.Of(data)
			default:
				if cap(buf) < 2*len(data) {
					buf = make([]byte, 2*len(data))
				}
				b = buf[:2*len(data)]
				enc := dtype.F32ToF16
				if info.Type == gguf.TypeBF16 {
					enc = dtype.F32ToBF16
				}
				for i, v := range data {
					h := enc(v)
					b[2*i], b[2*i+1] = byte(h), byte(h>>8)
				}
			}
			if err := w.WriteTensor(info.Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("prune: writing %s: %w", path, err)
	}
	return nil
}

// WriteHF writes the model as a Hugging Face folder dir (config.json, model.safetensors, the
// tokenizer files; see convert.ToHF), through a temporary GGUF: the folder is assembled beside
// dir and renamed into place when complete, so on error nothing is left. dir must not exist
// or be an empty folder.
func (m *FloatModel) WriteHF(ctx context.Context, dir string) error {
	dir = filepath.Clean(dir)
	if err := CheckOutput(dir, true); err != nil {
		return err
	}
	work, err := os.MkdirTemp(filepath.Dir(dir), ".mcompress-prune-")
	if err != nil {
		return fmt.Errorf("prune: %w: %w", ErrBadInput, err)
	}
	defer os.RemoveAll(work)
	tmp := filepath.Join(work, "model.gguf")
	if err := m.WriteGGUF(tmp); err != nil {
		return err
	}
	hf := filepath.Join(work, "hf")
	if _, err := convert.ToHF(ctx, tmp, hf, convert.HFOptions{}); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	if err := os.Remove(dir); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("prune: %w", err)
	}
	if err := os.Rename(hf, dir); err != nil {
		return fmt.Errorf("prune: %w", err)
	}
	return nil
}

// CheckOutput checks, before any work, that the output can be written: for a file, that its
// folder exists and accepts a new file; for a Hugging Face folder (folder true), that it does
// not exist or is empty and that its parent accepts a new folder. Problems wrap ErrBadInput.
func CheckOutput(path string, folder bool) error {
	parent := filepath.Dir(filepath.Clean(path))
	if folder {
		if st, err := os.Stat(path); err == nil {
			if !st.IsDir() {
				return fmt.Errorf("prune: %w: output %s exists and is not a folder", ErrBadInput, path)
			}
			entries, err := os.ReadDir(path)
			if err != nil {
				return fmt.Errorf("prune: %w: output %s: %w", ErrBadInput, path, err)
			}
			if len(entries) > 0 {
				return fmt.Errorf("prune: %w: output folder %s is not empty", ErrBadInput, path)
			}
		}
	} else if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("prune: %w: output %s is a folder (give a .gguf file, or --to safetensors)", ErrBadInput, path)
	}
	f, err := os.CreateTemp(parent, ".mcompress-check-")
	if err != nil {
		return fmt.Errorf("prune: %w: output %s cannot be written: %w", ErrBadInput, path, err)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	return nil
}
