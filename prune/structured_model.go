package prune

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/surgery"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/calibrate"
)

// StructuredSpec gives the new size of each dimension a structured prune cuts; 0 leaves that
// dimension unchanged. The counts are the same for every block.
type StructuredSpec struct {
	// Heads is the number of query heads each block keeps. Each head keeps its width (the head
	// dimension does not change), so the new hidden size need not be Heads × head dimension.
	Heads int
	// FFN is the MLP intermediate size each block keeps.
	FFN int
	// Hidden is the new embedding width (hidden channels, shared by every block).
	Hidden int
	// Layers is the number of transformer blocks kept.
	Layers int
	// HeadMode says how heads are removed under grouped-query attention ("" is HeadsPerGroup).
	HeadMode HeadMode
}

// IsZero reports whether s changes nothing.
func (s StructuredSpec) IsZero() bool {
	return s.Heads == 0 && s.FFN == 0 && s.Hidden == 0 && s.Layers == 0
}

// String formats s as ParseStructuredSpec reads it ("" for the zero spec, which that rejects).
func (s StructuredSpec) String() string {
	var parts []string
	for _, f := range []struct {
		key string
		v   int
	}{{"heads", s.Heads}, {"ffn", s.FFN}, {"hidden", s.Hidden}, {"layers", s.Layers}} {
		if f.v > 0 {
			parts = append(parts, f.key+"="+strconv.Itoa(f.v))
		}
	}
	if s.HeadMode != "" {
		parts = append(parts, "head-mode="+string(s.HeadMode))
	}
	return strings.Join(parts, ",")
}

// ParseStructuredSpec reads a structured prune such as "heads=4,ffn=384,hidden=128,layers=2"
// (any subset, in any order), optionally with "head-mode=groups" or "head-mode=per-group".
func ParseStructuredSpec(s string) (StructuredSpec, error) {
	var spec StructuredSpec
	if strings.TrimSpace(s) == "" {
		return spec, fmt.Errorf("%w: empty structured prune (want e.g. heads=4,ffn=384,hidden=128,layers=2)", ErrBadInput)
	}
	seen := map[string]bool{}
	for _, part := range strings.Split(s, ",") {
		key, val, ok := strings.Cut(strings.TrimSpace(part), "=")
		key, val = strings.TrimSpace(key), strings.TrimSpace(val)
		if !ok || key == "" || val == "" {
			return StructuredSpec{}, fmt.Errorf("%w: structured prune %q: %q is not key=value", ErrBadInput, s, part)
		}
		if seen[key] {
			return StructuredSpec{}, fmt.Errorf("%w: structured prune %q gives %s twice", ErrBadInput, s, key)
		}
		seen[key] = true
		if key == "head-mode" {
			switch m := HeadMode(val); m {
			case HeadsPerGroup, HeadsWholeGroups:
				spec.HeadMode = m
			default:
				return StructuredSpec{}, fmt.Errorf("%w: structured prune %q: head mode %q (want %s or %s)", ErrBadInput, s, val, HeadsPerGroup, HeadsWholeGroups)
			}
			continue
		}
		var dst *int
		switch key {
		case "heads":
			dst = &spec.Heads
		case "ffn":
			dst = &spec.FFN
		case "hidden":
			dst = &spec.Hidden
		case "layers":
			dst = &spec.Layers
		default:
			return StructuredSpec{}, fmt.Errorf("%w: structured prune %q: unknown key %q (want heads, ffn, hidden, layers or head-mode)", ErrBadInput, s, key)
		}
		n, err := strconv.Atoi(val)
		if err != nil || n <= 0 {
			return StructuredSpec{}, fmt.Errorf("%w: structured prune %q: %s=%s must be a positive whole number", ErrBadInput, s, key, val)
		}
		*dst = n
	}
	return spec, nil
}

// Importance is the activation importance of every prunable structure of a model, measured
// on calibration data by MeasureImportance (Minitron's activation-based scores, ShortGPT's
// block influence). Higher means more important; every score is a sum over the calibration
// tokens, so scores of one kind are comparable with each other.
type Importance struct {
	// Heads[l][h] is query head h of block l: the sum over tokens of the squared L2 norm of
	// the head's attention output (its slice of attn_output's input).
	Heads [][]float64 `json:"heads"`
	// FFN[l][j] is MLP channel j of block l: the sum over tokens of the square of the SwiGLU
	// output entering ffn_down.
	FFN [][]float64 `json:"ffn"`
	// Hidden[i] is hidden channel i: the sum over tokens and blocks of the squares of the
	// normalised block inputs (the outputs of attn_norm and ffn_norm, which include the norm
	// weights).
	Hidden []float64 `json:"hidden"`
	// Layers[l] is block l's influence, the mean over tokens of 1 − cos(x_in, x_out).
	Layers []float64 `json:"layers"`
	// Tokens is the number of calibration tokens measured.
	Tokens int64 `json:"tokens"`
}

// check reports an Importance that does not fit cfg.
func (imp *Importance) check(cfg convert.Config) error {
	if imp == nil {
		return fmt.Errorf("%w: no importance scores", ErrBadInput)
	}
	bad := len(imp.Heads) != cfg.Layers || len(imp.FFN) != cfg.Layers || len(imp.Layers) != cfg.Layers || len(imp.Hidden) != cfg.Hidden
	for l := 0; !bad && l < cfg.Layers; l++ {
		bad = len(imp.Heads[l]) != cfg.Heads || len(imp.FFN[l]) != cfg.FFN
	}
	if bad {
		return fmt.Errorf("%w: importance scores do not match the model (%d blocks, %d heads, FFN %d, hidden %d)", ErrBadInput, cfg.Layers, cfg.Heads, cfg.FFN, cfg.Hidden)
	}
	return nil
}

// MeasureImportance runs seqs through m once (calibrate.Run) and returns the importance of
// every query head, MLP channel, hidden channel and block of the unpruned model. cfg must be
// m's configuration. m's activation observer is replaced during the run and restored after,
// so no Session of m may run at the same time. The result is deterministic: the same model
// and sequences give the same scores for any thread count.
//
// Heads are scored by the sum over tokens of the squared norm of their output (Minitron sums
// the L2 norm over the sequence; the squared norm is what the calibration collector already
// keeps per column, ranks heads the same way whenever one head's output is uniformly larger,
// and weights rare large outputs more).
func MeasureImportance(ctx context.Context, m *runtime.Model, cfg convert.Config, seqs [][]int32) (*Importance, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: no model", ErrBadInput)
	}
	mc := m.Config()
	if mc.Layers != cfg.Layers || mc.Hidden != cfg.Hidden || mc.Heads != cfg.Heads || mc.KVHeads != cfg.KVHeads || mc.HeadDim != cfg.HeadDim || mc.FFN != cfg.FFN {
		return nil, fmt.Errorf("%w: configuration (%d blocks, hidden %d, %d heads) is not the model's (%d, %d, %d)", ErrBadInput, cfg.Layers, cfg.Hidden, cfg.Heads, mc.Layers, mc.Hidden, mc.Heads)
	}
	var tokens int64
	for _, s := range seqs {
		tokens += int64(len(s))
	}
	if tokens == 0 {
		return nil, fmt.Errorf("%w: no calibration tokens", ErrBadInput)
	}
	// One matrix per shared input: attn_q stands for q/k/v, ffn_gate for gate/up.
	cols := &calibrate.ColumnSquares{Select: func(w string) bool {
		for _, s := range []string{".attn_q.weight", ".attn_output.weight", ".ffn_gate.weight", ".ffn_down.weight"} {
			if strings.HasSuffix(w, s) {
				return true
			}
		}
		return false
	}}
	blocks := &calibrate.BlockDistance{}
	prev := m.SetActivationObserver(calibrate.New(cols, blocks).Observe)
	err := calibrate.Run(ctx, m, seqs, calibrate.RunOptions{})
	m.SetActivationObserver(prev)
	if err != nil {
		return nil, fmt.Errorf("prune: importance: %w", err)
	}
	stats := cols.Stats().Entries
	sums := func(name string, n int) ([]float64, error) {
		e, ok := stats[name]
		if !ok || len(e.Sums) != n {
			return nil, fmt.Errorf("prune: importance: no statistics for %s", name)
		}
		return e.Sums, nil
	}
	imp := &Importance{
		Heads:  make([][]float64, cfg.Layers),
		FFN:    make([][]float64, cfg.Layers),
		Hidden: make([]float64, cfg.Hidden),
		Layers: make([]float64, cfg.Layers),
		Tokens: tokens,
	}
	bs := blocks.Stats()
	hd := cfg.HeadDim
	for l := range cfg.Layers {
		p := fmt.Sprintf("blk.%d.", l)
		att, err := sums(p+"attn_output.weight", cfg.QDim())
		if err != nil {
			return nil, err
		}
		imp.Heads[l] = make([]float64, cfg.Heads)
		for h := range cfg.Heads {
			for _, v := range att[h*hd : (h+1)*hd] {
				imp.Heads[l][h] += v
			}
		}
		down, err := sums(p+"ffn_down.weight", cfg.FFN)
		if err != nil {
			return nil, err
		}
		imp.FFN[l] = slices.Clone(down)
		for _, w := range []string{"attn_q.weight", "ffn_gate.weight"} {
			in, err := sums(p+w, cfg.Hidden)
			if err != nil {
				return nil, err
			}
			for i, v := range in {
				imp.Hidden[i] += v
			}
		}
		if l < len(bs) {
			imp.Layers[l] = bs[l].Mean()
		}
	}
	return imp, nil
}

// TensorChange records what a structured prune did to one tensor: its new name (blocks are
// renumbered), the tensor it came from and the ggml dimensions before and after.
type TensorChange struct {
	Name   string `json:"name"`
	From   string `json:"from"`
	Before []int  `json:"before"`
	After  []int  `json:"after"`
}

// StructuredReport describes the result of ApplyStructured.
type StructuredReport struct {
	// ParamsBefore and ParamsAfter are the parameter counts of the old and new configuration
	// (convert.Config.NumParams).
	ParamsBefore int64 `json:"params_before"`
	ParamsAfter  int64 `json:"params_after"`
	// KeptLayers lists the old block of each new block; DroppedLayers the blocks removed.
	KeptLayers    []int `json:"kept_layers"`
	DroppedLayers []int `json:"dropped_layers,omitempty"`
	// Heads lists, per new block, the old query and KV heads it keeps.
	Heads []HeadPlan `json:"heads"`
	// FFN lists, per new block, the old MLP channels it keeps.
	FFN [][]int `json:"ffn"`
	// Hidden lists the old hidden channels kept.
	Hidden []int `json:"hidden"`
	// NormScale is the factor every RMSNorm weight was multiplied by, sqrt(old hidden / new
	// hidden) (1 when the hidden size is kept).
	NormScale float64 `json:"norm_scale"`
	// Tensors lists every output tensor in sorted order.
	Tensors []TensorChange `json:"tensors"`
}

// ApplyStructured cuts the model (cfg, w) to the sizes of spec, keeping the most important
// structures by imp (from MeasureImportance on the same model): first whole blocks (the least
// influential are dropped and the rest renumbered), then in every kept block its query heads
// (KeepHeads with spec.HeadMode; the KV heads they use come along) and MLP channels, and the
// hidden channels of the whole model. Each head keeps its width, so the new configuration's
// HeadDim is the old one even when Hidden/Heads is not. w holds float32 weights named as in
// GGUF (runtime.FromTensors's form; Q and K rows may be in llama.cpp's permuted order, which
// keeps every head's rows together). The returned map may share data with w where a tensor is
// unchanged.
//
// Removing hidden channels shrinks the denominator of every RMSNorm; the norm weights are
// multiplied by sqrt(old/new hidden size) so that the normalised values of the kept channels
// stay the same whenever the removed channels carry no signal.
//
// Counts larger than the model's, heads that cannot be kept evenly per KV group, importance
// scores of another shape and tensors of unknown names or shapes are ErrBadInput.
func ApplyStructured(cfg convert.Config, w map[string]runtime.Tensor, imp *Importance, spec StructuredSpec) (convert.Config, map[string]runtime.Tensor, *StructuredReport, error) {
	fail := func(err error) (convert.Config, map[string]runtime.Tensor, *StructuredReport, error) {
		return convert.Config{}, nil, nil, err
	}
	if err := cfg.Validate(); err != nil {
		return fail(fmt.Errorf("%w: %w", ErrBadInput, err))
	}
	if err := imp.check(cfg); err != nil {
		return fail(err)
	}
	for _, c := range []struct {
		what      string
		want, has int
	}{{"attention heads", spec.Heads, cfg.Heads}, {"FFN channels", spec.FFN, cfg.FFN}, {"hidden channels", spec.Hidden, cfg.Hidden}, {"layers", spec.Layers, cfg.Layers}} {
		if c.want < 0 || c.want > c.has {
			return fail(fmt.Errorf("%w: cannot keep %d %s: the model has %d", ErrBadInput, c.want, c.what, c.has))
		}
	}
	nc := cfg
	rep := &StructuredReport{ParamsBefore: cfg.NumParams(), NormScale: 1}

	// Blocks.
	rep.KeptLayers = allIndices(cfg.Layers)
	if spec.Layers > 0 && spec.Layers < cfg.Layers {
		drop, err := DropLeastInfluential(imp.Layers, cfg.Layers-spec.Layers)
		if err != nil {
			return fail(err)
		}
		if rep.KeptLayers, err = surgery.KeepLayers(cfg.Layers, drop); err != nil {
			return fail(fmt.Errorf("%w: %w", ErrBadInput, err))
		}
		rep.DroppedLayers = drop
		nc.Layers = spec.Layers
	}

	// Heads and MLP channels of each kept block.
	heads := cmp.Or(spec.Heads, cfg.Heads)
	ffn := cmp.Or(spec.FFN, cfg.FFN)
	for _, old := range rep.KeptLayers {
		plan := HeadPlan{Query: allIndices(cfg.Heads), KV: allIndices(cfg.KVHeads)}
		if heads < cfg.Heads {
			var err error
			if plan, err = KeepHeads(imp.Heads[old], cfg.KVHeads, heads, spec.HeadMode); err != nil {
				return fail(err)
			}
		}
		rep.Heads = append(rep.Heads, plan)
		rep.FFN = append(rep.FFN, KeepTop(imp.FFN[old], ffn))
	}
	nc.Heads, nc.KVHeads, nc.FFN = heads, len(rep.Heads[0].KV), ffn

	// Hidden channels.
	rep.Hidden = allIndices(cfg.Hidden)
	if spec.Hidden > 0 && spec.Hidden < cfg.Hidden {
		rep.Hidden = KeepTop(imp.Hidden, spec.Hidden)
		nc.Hidden = spec.Hidden
		rep.NormScale = math.Sqrt(float64(cfg.Hidden) / float64(nc.Hidden))
	}
	if err := nc.Validate(); err != nil {
		return fail(fmt.Errorf("%w: the pruned configuration is invalid: %w", ErrBadInput, err))
	}
	rep.ParamsAfter = nc.NumParams()

	out, changes, err := sliceTensors(cfg, w, rep)
	if err != nil {
		return fail(err)
	}
	rep.Tensors = changes
	return nc, out, rep, nil
}

// sliceTensors builds the pruned tensors of w by rep's plan.
func sliceTensors(cfg convert.Config, w map[string]runtime.Tensor, rep *StructuredReport) (map[string]runtime.Tensor, []TensorChange, error) {
	// nil means every index, so that a dimension that is not pruned is not copied.
	hid := rep.Hidden
	if len(hid) == cfg.Hidden {
		hid = nil
	}
	newIndex := make(map[int]int, len(rep.KeptLayers))
	for i, old := range rep.KeptLayers {
		newIndex[old] = i
	}
	out := make(map[string]runtime.Tensor, len(w))
	var changes []TensorChange
	names := make([]string, 0, len(w))
	for n := range w {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, name := range names {
		t := w[name]
		newName, suffix := name, name
		var plan HeadPlan
		var ffnKeep []int
		if rest, ok := strings.CutPrefix(name, "blk."); ok {
			num, tail, _ := strings.Cut(rest, ".")
			l, err := strconv.Atoi(num)
			if err != nil || l < 0 || l >= cfg.Layers || tail == "" {
				return nil, nil, fmt.Errorf("%w: tensor %q: not a block of a %d-block model", ErrBadInput, name, cfg.Layers)
			}
			ni, kept := newIndex[l]
			if !kept {
				continue
			}
			newName, suffix = "blk."+strconv.Itoa(ni)+"."+tail, "blk.*."+tail
			plan, ffnKeep = rep.Heads[ni], rep.FFN[ni]
			if len(plan.Query) == cfg.Heads {
				plan = HeadPlan{}
			}
			if len(ffnKeep) == cfg.FFN {
				ffnKeep = nil
			}
		}
		var qRows, kvRows []int
		if plan.Query != nil {
			qRows, kvRows = surgery.HeadRows(plan.Query, cfg.HeadDim), surgery.HeadRows(plan.KV, cfg.HeadDim)
			if len(plan.KV) == cfg.KVHeads {
				kvRows = nil
			}
		}
		h, q, kv, f := cfg.Hidden, cfg.QDim(), cfg.KVDim(), cfg.FFN
		var rows, cols []int // kept rows (output features) and columns (input features)
		var wantRows, wantCols int
		scale := false
		switch suffix {
		case "token_embd.weight", "output.weight":
			wantRows, wantCols, cols = cfg.VocabSize, h, hid
		case "output_norm.weight", "blk.*.attn_norm.weight", "blk.*.ffn_norm.weight":
			wantRows, rows, scale = h, hid, true
		case "rope_freqs.weight":
			wantRows = len(t.Data)
		case "blk.*.attn_q.weight":
			wantRows, wantCols, rows, cols = q, h, qRows, hid
		case "blk.*.attn_k.weight", "blk.*.attn_v.weight":
			wantRows, wantCols, rows, cols = kv, h, kvRows, hid
		case "blk.*.attn_q.bias":
			wantRows, rows = q, qRows
		case "blk.*.attn_k.bias", "blk.*.attn_v.bias":
			wantRows, rows = kv, kvRows
		case "blk.*.attn_q_norm.weight", "blk.*.attn_k_norm.weight":
			wantRows = cfg.HeadDim
		case "blk.*.attn_output.weight":
			wantRows, wantCols, rows, cols = h, q, hid, qRows
		case "blk.*.ffn_gate.weight", "blk.*.ffn_up.weight":
			wantRows, wantCols, rows, cols = f, h, ffnKeep, hid
		case "blk.*.ffn_down.weight":
			wantRows, wantCols, rows, cols = h, f, hid, ffnKeep
		default:
			return nil, nil, fmt.Errorf("%w: tensor %q: a structured prune does not know this tensor", ErrBadInput, name)
		}
		want := []int{wantRows}
		if wantCols > 0 {
			want = []int{wantCols, wantRows}
		}
		if !slices.Equal(t.Dims, want) || len(t.Data) != wantRows*max(wantCols, 1) {
			return nil, nil, fmt.Errorf("%w: tensor %q has dims %v and %d values, want %v", ErrBadInput, name, t.Dims, len(t.Data), want)
		}
		nt, err := sliceTensor(t, rows, cols)
		if err != nil {
			return nil, nil, fmt.Errorf("prune: tensor %q: %w", name, err)
		}
		if scale && rep.NormScale != 1 {
			if rows == nil {
				nt.Data = slices.Clone(nt.Data)
			}
			for i := range nt.Data {
				nt.Data[i] = float32(float64(nt.Data[i]) * rep.NormScale)
			}
		}
		out[newName] = nt
		changes = append(changes, TensorChange{Name: newName, From: name, Before: slices.Clone(t.Dims), After: slices.Clone(nt.Dims)})
	}
	slices.SortFunc(changes, func(a, b TensorChange) int { return strings.Compare(a.Name, b.Name) })
	return out, changes, nil
}

// sliceTensor keeps the listed rows and columns of t (ggml dims: Dims[0] is the row length);
// nil keeps them all, and a tensor that keeps everything shares t's data.
func sliceTensor(t runtime.Tensor, rows, cols []int) (runtime.Tensor, error) {
	if rows == nil && cols == nil {
		return runtime.Tensor{Dims: slices.Clone(t.Dims), Data: t.Data}, nil
	}
	st := surgery.Tensor{Shape: []int{t.Dims[0]}, Data: t.Data}
	if len(t.Dims) == 2 {
		st.Shape = []int{t.Dims[1], t.Dims[0]}
	}
	var err error
	if rows != nil {
		if st, err = surgery.SliceRows(st, rows); err != nil {
			return runtime.Tensor{}, err
		}
	}
	if cols != nil {
		if st, err = surgery.SliceCols(st, cols); err != nil {
			return runtime.Tensor{}, err
		}
	}
	if len(st.Shape) == 1 {
		return runtime.Tensor{Dims: []int{st.Shape[0]}, Data: st.Data}, nil
	}
	return runtime.Tensor{Dims: []int{st.Shape[1], st.Shape[0]}, Data: st.Data}, nil
}

// allIndices returns 0, 1, …, n−1.
func allIndices(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i
	}
	return out
}
