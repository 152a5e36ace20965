package prune

import (
	"cmp"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/calibrate"
)

// LayerInfluence runs seqs through m (calibrate.Run) and returns each block's influence, the
// mean over tokens of 1 − cos(x_in, x_out) (ShortGPT): the scores DropLeastInfluential ranks.
// m may be a float or a quantized model. Its activation observer is replaced during the run
// and restored after.
func LayerInfluence(ctx context.Context, m *runtime.Model, seqs [][]int32) ([]float64, error) {
	bd := &calibrate.BlockDistance{}
	prev := m.SetActivationObserver(calibrate.New(bd).Observe)
	err := calibrate.Run(ctx, m, seqs, calibrate.RunOptions{})
	m.SetActivationObserver(prev)
	if err != nil {
		return nil, fmt.Errorf("prune: layer influence: %w", err)
	}
	out := make([]float64, m.Config().Layers)
	for i, s := range bd.Stats() {
		if i < len(out) {
			out[i] = s.Mean()
		}
	}
	return out, nil
}

// ParseDropLayers parses --drop-layers: a list of block indices ("3,7"), or "auto:N" to drop
// the N least influential blocks (auto is then N, list nil).
func ParseDropLayers(s string) (list []int, auto int, err error) {
	if rest, ok := strings.CutPrefix(s, "auto:"); ok {
		n, err := strconv.Atoi(rest)
		if err != nil || n <= 0 {
			return nil, 0, fmt.Errorf("%w: --drop-layers %q: want auto:N with N ≥ 1", ErrBadInput, s)
		}
		return nil, n, nil
	}
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 0 {
			return nil, 0, fmt.Errorf("%w: --drop-layers %q: want block indices such as 3,7 or auto:N", ErrBadInput, s)
		}
		list = append(list, n)
	}
	return list, 0, nil
}

// ApplyStructured cuts the model in place to spec by imp (see the package function
// ApplyStructured): its tensors, configuration and metadata (shape keys, per-layer arrays cut
// to the kept blocks) are replaced; each tensor keeps its storage type and place in file
// order. A runtime.Model built over the old tensors must not be used afterwards.
func (m *FloatModel) ApplyStructured(imp *Importance, spec StructuredSpec) (*StructuredReport, error) {
	old := m.Config.Layers
	cfg, tensors, rep, err := ApplyStructured(m.Config, m.Tensors, imp, spec)
	if err != nil {
		return nil, err
	}
	from := make(map[string]string, len(rep.Tensors))
	for _, c := range rep.Tensors {
		from[c.Name] = c.From
	}
	pos := make(map[string]int, len(m.Names))
	for i, n := range m.Names {
		pos[n] = i
	}
	names := make([]string, 0, len(tensors))
	types := make(map[string]gguf.TensorType, len(tensors))
	for n := range tensors {
		src, ok := from[n]
		if !ok {
			src = n
		}
		types[n] = m.Types[src]
		names = append(names, n)
	}
	rank := func(n string) int {
		if p, ok := pos[from[n]]; ok {
			return p
		}
		if p, ok := pos[n]; ok {
			return p
		}
		return len(pos)
	}
	slices.SortFunc(names, func(a, b string) int { return cmp.Or(cmp.Compare(rank(a), rank(b)), strings.Compare(a, b)) })
	if cfg.Layers != old {
		m.cutLayerArrays(old, rep.KeptLayers)
	}
	m.Config, m.Tensors, m.Types, m.Names = cfg, tensors, types, names
	return rep, nil
}
