package prune

import (
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// LayerPlan says how a GGUF file looks with some blocks removed: the new metadata, the kept
// tensors under their new names, and for each the index of its tensor in the source file.
type LayerPlan struct {
	Metadata gguf.Metadata
	Tensors  []gguf.TensorInfo
	Source   []int
	// Kept lists, for each block of the new file, the block of the source it came from.
	Kept []int
	// CutArrays names the per-layer metadata arrays that were cut to the new block count.
	CutArrays []string
}

// PlanDropLayers plans the removal of the blocks in drop from f. Tensors named "blk.N.…" of a
// dropped block are left out and those of the others renumbered in order; every other tensor is
// kept. When f has "<arch>.block_count" (a model), it is lowered, and every metadata array
// under "<arch>." with one entry per block (per-layer head counts, FFN lengths, sliding-window
// patterns…) is cut to match, which llama.cpp's own --prune-layers does not do. A file without
// a block count (an importance matrix) is renumbered only; it must then be given the model's
// block count as blocks (0 otherwise).
func PlanDropLayers(f *gguf.File, drop []int, blocks int) (*LayerPlan, error) {
	arch := f.Architecture()
	countKey := arch + ".block_count"
	v, hasCount := f.Metadata.Uint(countKey)
	if hasCount {
		blocks = int(min(v, 1<<20))
		if uint64(blocks) != v {
			return nil, fmt.Errorf("%w: %s = %d is not a plausible block count", ErrBadInput, countKey, v)
		}
	}
	if blocks <= 0 {
		return nil, fmt.Errorf("%w: the file has no %s, so the number of blocks is unknown", ErrBadInput, countKey)
	}
	dropped := make([]bool, blocks)
	for _, d := range drop {
		if d < 0 || d >= blocks {
			return nil, fmt.Errorf("%w: layer %d does not exist (the model has layers 0 to %d)", ErrBadInput, d, blocks-1)
		}
		if dropped[d] {
			return nil, fmt.Errorf("%w: layer %d listed twice", ErrBadInput, d)
		}
		dropped[d] = true
	}
	if len(drop) >= blocks {
		return nil, fmt.Errorf("%w: dropping %d of %d layers leaves none", ErrBadInput, len(drop), blocks)
	}
	p := &LayerPlan{}
	newIndex := make([]int, blocks)
	for b := range blocks {
		if dropped[b] {
			newIndex[b] = -1
			continue
		}
		newIndex[b] = len(p.Kept)
		p.Kept = append(p.Kept, b)
	}
	for _, kv := range f.Metadata {
		switch {
		case hasCount && kv.Key == countKey:
			kv.Value = sameIntType(kv.Value, uint64(len(p.Kept)))
		case strings.HasPrefix(kv.Key, arch+"."):
			if a, ok := kv.Value.(gguf.Array); ok && a.Len() == blocks && a.Type != gguf.ValueArray {
				kv.Value = cutArray(a, p.Kept)
				p.CutArrays = append(p.CutArrays, kv.Key)
			}
		}
		p.Metadata = append(p.Metadata, kv)
	}
	for i, t := range f.Tensors {
		b, rest, ok := blockOf(t.Name)
		if ok {
			if b >= blocks {
				return nil, fmt.Errorf("%w: tensor %s belongs to block %d but the model has %d", ErrBadInput, t.Name, b, blocks)
			}
			if dropped[b] {
				continue
			}
			t.Name = "blk." + strconv.Itoa(newIndex[b]) + "." + rest
		}
		t.Dims = slices.Clone(t.Dims)
		p.Tensors = append(p.Tensors, t)
		p.Source = append(p.Source, i)
	}
	return p, nil
}

// DropLayersFile writes to out a copy of the GGUF file in without the blocks in drop (see
// PlanDropLayers). Tensor data are copied byte for byte: a quantized model stays as it is. No
// file is left at out on failure.
func DropLayersFile(in, out string, drop []int, blocks int) (*LayerPlan, error) {
	f, err := gguf.Open(in)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	p, err := PlanDropLayers(f, drop, blocks)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", in, err)
	}
	err = gguf.WriteFile(out, p.Metadata, p.Tensors, func(w *gguf.Writer) error {
		for i, t := range p.Tensors {
			if err := w.WriteTensor(t.Name, f.TensorData(p.Source[i])); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return p, nil
}

// blockOf splits "blk.N.rest" into N and rest.
func blockOf(name string) (int, string, bool) {
	s, ok := strings.CutPrefix(name, "blk.")
	if !ok {
		return 0, "", false
	}
	num, rest, ok := strings.Cut(s, ".")
	if !ok {
		return 0, "", false
	}
	b, err := strconv.Atoi(num)
	if err != nil || b < 0 || strconv.Itoa(b) != num {
		return 0, "", false
	}
	return b, rest, true
}

// sameIntType returns n in the integer type of like (the type the file used for the key).
func sameIntType(like any, n uint64) any {
	switch like.(type) {
	case uint8:
		return uint8(n)
	case int8:
		return int8(n)
	case uint16:
		return uint16(n)
	case int16:
		return int16(n)
	case int32:
		return int32(n)
	case uint64:
		return n
	case int64:
		return int64(n)
	}
	return uint32(n)
}

// cutArray keeps the entries of a at the indices in keep, in that order.
func cutArray(a gguf.Array, keep []int) gguf.Array {
	src := reflect.ValueOf(a.Values)
	dst := reflect.MakeSlice(src.Type(), len(keep), len(keep))
	for i, k := range keep {
		dst.Index(i).Set(src.Index(k))
	}
	return gguf.Array{Type: a.Type, Values: dst.Interface()}
}
