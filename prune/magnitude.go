package prune

import (
	"fmt"
	"math"
)

// Magnitude zeroes the weights of w with the smallest absolute values, in place: the lowest
// Sparsity fraction of the whole layer (as the magnitude baselines of the Wanda and SparseGPT
// papers do), or with a Pattern the smallest M−N of every group of M in each row. It needs no
// calibration data.
func Magnitude(w Matrix, o Options) error {
	if err := w.check(); err != nil {
		return err
	}
	o = o.withDefaults()
	if err := o.Validate(w.Cols); err != nil {
		return err
	}
	if !o.Pattern.IsZero() {
		score := make([]float64, w.Cols)
		for r := range w.Rows {
			row := w.Row(r)
			for i, v := range row {
				score[i] = math.Abs(float64(v))
			}
			applyMask(row, maskByScore(score, o))
		}
		return nil
	}
	score := make([]float64, len(w.Data))
	for i, v := range w.Data {
		score[i] = math.Abs(float64(v))
	}
	applyMask(w.Data, maskByScore(score, o))
	return nil
}

// Wanda zeroes, in place, the weights with the smallest |W_ij|·‖X_j‖ compared within each
// output row (Sun et al., 2023): colSqNorm[j] is the sum over calibration tokens of the
// squared input activation of column j. With a Pattern, the smallest M−N scores of every group
// of M in each row are removed.
func Wanda(w Matrix, colSqNorm []float64, o Options) error {
	if err := w.check(); err != nil {
		return err
	}
	if len(colSqNorm) != w.Cols {
		return fmt.Errorf("%w: %d column norms for a layer of %d input features", ErrBadInput, len(colSqNorm), w.Cols)
	}
	o = o.withDefaults()
	if err := o.Validate(w.Cols); err != nil {
		return err
	}
	norm := make([]float64, w.Cols)
	for j, s := range colSqNorm {
		norm[j] = math.Sqrt(max(s, 0))
	}
	score := make([]float64, w.Cols)
	for r := range w.Rows {
		row := w.Row(r)
		for j, v := range row {
			score[j] = math.Abs(float64(v)) * norm[j]
		}
		applyMask(row, maskByScore(score, o))
	}
	return nil
}

func applyMask(row []float32, mask []bool) {
	for i, m := range mask {
		if m {
			row[i] = 0
		}
	}
}
