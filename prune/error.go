package prune

import "fmt"

// ReconstructionError returns ‖(W − Ŵ)X‖²_F = tr((W − Ŵ) H (W − Ŵ)ᵀ) for the original weights
// orig, the changed weights changed and the Gram matrix h = XᵀX of the layer's inputs: the
// squared error the change causes on the calibration data.
func ReconstructionError(orig, changed Matrix, h []float64) (float64, error) {
	if err := orig.check(); err != nil {
		return 0, err
	}
	if changed.Rows != orig.Rows || changed.Cols != orig.Cols || len(changed.Data) != len(orig.Data) {
		return 0, fmt.Errorf("%w: matrices %d×%d and %d×%d differ in shape", ErrBadInput, orig.Rows, orig.Cols, changed.Rows, changed.Cols)
	}
	n := orig.Cols
	if len(h) != n*n {
		return 0, fmt.Errorf("%w: XᵀX has %d values for %d input features", ErrBadInput, len(h), n)
	}
	d := make([]float64, n)
	hd := make([]float64, n)
	total := 0.0
	for r := range orig.Rows {
		a, b := orig.Row(r), changed.Row(r)
		for j := range n {
			d[j] = float64(a[j]) - float64(b[j])
		}
		for i := range n {
			s := 0.0
			hi := h[i*n : (i+1)*n]
			for j, dj := range d {
				s += hi[j] * dj
			}
			hd[i] = s
		}
		for i, di := range d {
			total += di * hd[i]
		}
	}
	return total, nil
}
