package quantize

import "github.com/mcompress/mcompress/quantize/codec"

// searchRow encodes one row with codec.SearchBlock block by block, weighted by the row's
// importance weights im (nil: uniform).
func searchRow(g codec.Grid, dst []byte, x, im []float32) {
	bs, ts := g.BlockSize(), g.TypeSize()
	for b := 0; b < len(x)/bs; b++ {
		var w []float32
		if im != nil {
			w = im[b*bs : (b+1)*bs]
		}
		codec.SearchBlock(g, dst[b*ts:(b+1)*ts], x[b*bs:(b+1)*bs], w)
	}
}
