//go:build !amd64

package codec

// quantLevels computes the levels of one candidate scale; see quantLevelsGo.
func quantLevels(L *[32]uint8, x *[32]float32, iscale, lo, hi float32) {
	quantLevelsGo(L, x, iscale, lo, hi)
}
