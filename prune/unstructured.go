package prune

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"
	"unicode"

	"github.com/mcompress/mcompress/internal/parallel"
	"github.com/mcompress/mcompress/runtime/calibrate"
)

// Method is an unstructured pruning method.
type Method string

// The methods PruneModel offers.
const (
	// MethodMagnitude removes the smallest |W| (no calibration needed).
	MethodMagnitude Method = "magnitude"
	// MethodWanda removes the smallest |W_ij|·‖X_j‖ in each row (Wanda).
	MethodWanda Method = "wanda"
	// MethodSparseGPT removes weights and updates the rest by SparseGPT's reconstruction.
	MethodSparseGPT Method = "sparsegpt"
)

// ParseMethod parses a method name (magnitude, wanda or sparsegpt).
func ParseMethod(s string) (Method, error) {
	switch m := Method(strings.ToLower(s)); m {
	case MethodMagnitude, MethodWanda, MethodSparseGPT:
		return m, nil
	}
	return "", fmt.Errorf("%w: unknown method %q (want magnitude, wanda or sparsegpt)", ErrBadInput, s)
}

// BlockMatrices are the suffixes of the linear matrices of a block that unstructured pruning
// sparsifies, in the order of the forward pass. Embeddings, the output head, norms and biases
// are never pruned.
var BlockMatrices = []string{"attn_q", "attn_k", "attn_v", "attn_output", "ffn_gate", "ffn_up", "ffn_down"}

// ParseSchedule parses a per-layer sparsity schedule: "LAYER:SPARSITY" entries separated by
// commas, spaces or newlines ("0:0.3,1:0.5"; a file of one entry per line reads the same).
// Layers not listed keep the uniform sparsity.
func ParseSchedule(s string) (map[int]float64, error) {
	out := map[int]float64{}
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || unicode.IsSpace(r) }) {
		a, b, ok := strings.Cut(f, ":")
		layer, err1 := strconv.Atoi(a)
		sp, err2 := strconv.ParseFloat(b, 64)
		if !ok || err1 != nil || err2 != nil || layer < 0 {
			return nil, fmt.Errorf("%w: schedule entry %q: want LAYER:SPARSITY, such as 3:0.5", ErrBadInput, f)
		}
		if _, dup := out[layer]; dup {
			return nil, fmt.Errorf("%w: schedule lists layer %d twice", ErrBadInput, layer)
		}
		if sp < 0 || sp >= 1 || sp != sp {
			return nil, fmt.Errorf("%w: schedule entry %q: sparsity %g outside [0, 1)", ErrBadInput, f, sp)
		}
		out[layer] = sp
	}
	return out, nil
}

// UnstructuredOptions configure PruneModel.
type UnstructuredOptions struct {
	// Method chooses the scores (and, for SparseGPT, the weight update).
	Method Method
	// Sparsity is the fraction of each matrix to remove, in [0, 1); with a Pattern, zero or the
	// pattern's own.
	Sparsity float64
	// Schedule, when not nil, overrides Sparsity for the blocks it lists (see ParseSchedule).
	Schedule map[int]float64
	// Pattern, when not zero, removes M−N of every M consecutive weights in each row.
	Pattern Pattern
	// BlockSize and Damp are SparseGPT's (see Options).
	BlockSize int
	Damp      float64
	// Threads bounds the worker threads (0: every core). The result does not depend on it.
	Threads int
	// Progress, when not nil, is called after each block with the blocks done and the total.
	Progress func(done, total int64)
}

// TensorResult reports one pruned matrix.
type TensorResult struct {
	Name string `json:"name"`
	// Shape is [rows, cols] (output features, input features).
	Shape []int `json:"shape"`
	// Target is the sparsity asked for, Sparsity the fraction of zeros afterwards.
	Target   float64 `json:"target"`
	Sparsity float64 `json:"sparsity"`
	// DeadColumns counts SparseGPT's input features never active on the calibration data.
	DeadColumns int `json:"dead_columns,omitempty"`
}

// BlockResult reports one block.
type BlockResult struct {
	Layer int `json:"layer"`
	// Target is the sparsity asked of the block's matrices.
	Target float64 `json:"target"`
	// OutputError is the block's reconstruction error on the calibration data: ‖Y−Ŷ‖²/‖Y‖²
	// between its outputs before and after pruning, both from the same (already pruned) inputs.
	// Zero without calibration data.
	OutputError float64 `json:"output_error"`
}

// UnstructuredResult reports PruneModel's work.
type UnstructuredResult struct {
	Method    Method         `json:"method"`
	Pattern   string         `json:"pattern,omitempty"`
	Tensors   []TensorResult `json:"tensors"`
	Blocks    []BlockResult  `json:"blocks"`
	Seconds   float64        `json:"seconds"`
	Pruned    int64          `json:"pruned_params"` // values in the pruned matrices
	Zeros     int64          `json:"zeros"`         // zeros among them afterwards
	Sequences int            `json:"calibration_sequences"`
}

// sparsityOf returns block b's target sparsity.
func (o UnstructuredOptions) sparsityOf(b int) float64 {
	if s, ok := o.Schedule[b]; ok {
		return s
	}
	if o.Sparsity == 0 && !o.Pattern.IsZero() {
		return o.Pattern.Sparsity()
	}
	return o.Sparsity
}

// validate checks the options against the model before any work.
func (o UnstructuredOptions) validate(fm *FloatModel, seqs [][]int32) error {
	if _, err := ParseMethod(string(o.Method)); err != nil {
		return err
	}
	if o.Method != MethodMagnitude && len(seqs) == 0 {
		return fmt.Errorf("%w: %s needs calibration data", ErrBadInput, o.Method)
	}
	for l := range o.Schedule {
		if l >= fm.Config.Layers {
			return fmt.Errorf("%w: schedule names layer %d but the model has %d", ErrBadInput, l, fm.Config.Layers)
		}
	}
	for b := range fm.Config.Layers {
		po := Options{Sparsity: o.sparsityOf(b), Pattern: o.Pattern, BlockSize: o.BlockSize, Damp: o.Damp}
		if !o.Pattern.IsZero() {
			po.Sparsity = 0
			if s, ok := o.Schedule[b]; ok && s != o.Pattern.Sparsity() {
				return fmt.Errorf("%w: schedule gives layer %d sparsity %g, which contradicts pattern %s", ErrBadInput, b, s, o.Pattern)
			}
			if o.Sparsity != 0 && o.Sparsity != o.Pattern.Sparsity() {
				return fmt.Errorf("%w: sparsity %g contradicts pattern %s (which removes %g)", ErrBadInput, o.Sparsity, o.Pattern, o.Pattern.Sparsity())
			}
		}
		for _, s := range BlockMatrices {
			name := fmt.Sprintf("blk.%d.%s.weight", b, s)
			w, err := fm.Matrix(name)
			if err != nil {
				return fmt.Errorf("%s: %w", fm.Path, err)
			}
			if err := po.withDefaults().Validate(w.Cols); err != nil {
				return fmt.Errorf("%s: %s: %w", fm.Path, name, err)
			}
		}
	}
	return nil
}

// PruneModel sparsifies the seven linear matrices of every block of fm in place (BlockMatrices:
// attention q, k, v and output, FFN gate, up and down) with the chosen method. With
// calibration sequences, the model runs one block at a time: the block's inputs are the outputs
// of the blocks before it as already pruned; its statistics (‖X_j‖² for Wanda, XᵀX for
// SparseGPT, nothing for magnitude) are collected for that block only, its matrices pruned, and
// the block run again to give the next block its inputs. The seven matrices of a block are
// pruned concurrently, each by one worker (SparseGPT also spreads rows), so the result does not
// depend on the thread count. Magnitude needs no sequences (seqs may be nil).
func PruneModel(ctx context.Context, fm *FloatModel, seqs [][]int32, o UnstructuredOptions) (*UnstructuredResult, error) {
	if err := o.validate(fm, seqs); err != nil {
		return nil, err
	}
	start := time.Now()
	res := &UnstructuredResult{Method: o.Method, Pattern: o.Pattern.String(), Sequences: len(seqs)}
	var bw *blockwise
	if len(seqs) > 0 {
		var err error
		if bw, err = newBlockwise(fm, seqs, o.Threads); err != nil {
			return nil, err
		}
		defer bw.close()
	}
	layers := fm.Config.Layers
	for b := range layers {
		names := make([]string, len(BlockMatrices))
		for i, s := range BlockMatrices {
			names[i] = fmt.Sprintf("blk.%d.%s.weight", b, s)
		}
		var (
			cols  *calibrate.ColumnSquares
			grams *calibrate.Gram
			ref   [][]float32
			err   error
		)
		if bw != nil {
			var accs []calibrate.Accumulator
			switch o.Method {
			case MethodWanda:
				cols = &calibrate.ColumnSquares{}
				accs = append(accs, cols)
			case MethodSparseGPT:
				grams = &calibrate.Gram{Threads: o.Threads}
				accs = append(accs, grams)
			}
			if ref, err = bw.collect(ctx, accs...); err != nil {
				return nil, err
			}
		}
		target := o.sparsityOf(b)
		po := Options{Sparsity: target, Pattern: o.Pattern, BlockSize: o.BlockSize, Damp: o.Damp}
		if !o.Pattern.IsZero() {
			po.Sparsity = 0
		}
		results := make([]TensorResult, len(names))
		errs := make([]error, len(names))
		var colStats map[string][]float64
		if cols != nil {
			colStats = map[string][]float64{}
			for n, e := range cols.Stats().Entries {
				colStats[n] = e.Sums
			}
		}
		var h map[string][]float64
		if grams != nil {
			h = map[string][]float64{}
			for _, g := range grams.Grams() {
				for _, w := range g.Weights {
					h[w] = g.Sum
				}
			}
		}
		parallel.For(o.Threads, len(names), func(_, i int) {
			name := names[i]
			w, err := fm.Matrix(name)
			if err != nil {
				errs[i] = err
				return
			}
			r := TensorResult{Name: name, Shape: []int{w.Rows, w.Cols}, Target: target}
			switch o.Method {
			case MethodMagnitude:
				err = Magnitude(w, po)
			case MethodWanda:
				s, ok := colStats[name]
				if !ok {
					err = fmt.Errorf("no activations of %s were observed", name)
					break
				}
				err = Wanda(w, s, po)
			case MethodSparseGPT:
				hs, ok := h[name]
				if !ok {
					err = fmt.Errorf("no activations of %s were observed", name)
					break
				}
				var st Stats
				st, err = SparseGPT(w, hs, po)
				r.DeadColumns = st.DeadColumns
			}
			if err != nil {
				errs[i] = fmt.Errorf("prune: %s: %w", name, err)
				return
			}
			r.Sparsity = zeroFraction(w.Data)
			results[i] = r
		})
		for _, err := range errs {
			if err != nil {
				return nil, err
			}
		}
		br := BlockResult{Layer: b, Target: target}
		if bw != nil {
			if br.OutputError, err = bw.advance(ctx, ref); err != nil {
				return nil, err
			}
		}
		for _, r := range results {
			n := int64(r.Shape[0] * r.Shape[1])
			res.Pruned += n
			res.Zeros += int64(r.Sparsity*float64(n) + 0.5)
		}
		res.Tensors = append(res.Tensors, results...)
		res.Blocks = append(res.Blocks, br)
		if o.Progress != nil {
			o.Progress(int64(b+1), int64(layers))
		}
	}
	res.Seconds = time.Since(start).Seconds()
	return res, nil
}

// zeroFraction returns the fraction of exact zeros in v.
func zeroFraction(v []float32) float64 {
	n := 0
	for _, x := range v {
		if x == 0 {
			n++
		}
	}
	return float64(n) / float64(len(v))
}

// CheckPattern reports the first group of m in a row of w that holds more than n nonzeros.
func CheckPattern(w Matrix, p Pattern) error {
	if p.IsZero() {
		return nil
	}
	for r := range w.Rows {
		row := w.Row(r)
		for g := 0; g+p.M <= len(row); g += p.M {
			nz := 0
			for _, v := range row[g : g+p.M] {
				if v != 0 {
					nz++
				}
			}
			if nz > p.N {
				return fmt.Errorf("row %d, columns %d–%d: %d nonzeros, pattern %s allows %d", r, g, g+p.M-1, nz, p, p.N)
			}
		}
	}
	return nil
}
