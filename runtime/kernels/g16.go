package kernels

import (
	"encoding/binary"
	"math"
	"sync"

	"github.com/mcompress/mcompress/quantize/codec"
)

// The 16-token path of MatMul for prompts (AVX-512 VNNI; see asm/vnni.go). Activations are
// regrouped 16 tokens at a time with the tokens along the vector lanes: for each block of the
// activation format, element group i (four consecutive elements) of token t is stored at byte
// 64i+4t as unsigned q+128, next to the 16 block scales and, for K-quants, the float32 sums of
// each 32-element sub-block. Weight rows are "prepared" once per matrix product: unpacked to one
// signed byte per weight with the scales in float32 and −128·Σw per sub-block, which removes
// the +128 of the activations. Each (row, token) result is one fixed sequence of operations,
// so results do not depend on the thread count. The pure-Go twins below compute the same
// values operation for operation; they exist for the tests, the pure-Go MatMul uses dotGo.

// groupTokens is the number of tokens along the lanes of the 16-token kernels.
const groupTokens = 16

// groupKernel is a weight type's 16-token path.
type groupKernel struct {
	// prepBytes is the size of one prepared block (super-block for K-quants).
	prepBytes int
	// prep prepares the nb blocks of one weight row w into dst (nb·prepBytes bytes).
	prep func(dst, w []byte, nb int)
	// mul writes to out[r*os+16g+t] the products of the prepared rows r < 2 (wp and wp[ws:])
	// with token t of groups g < ng of x.
	mul func(wp []byte, ws, nb int, x *groups, g0, ng int, out []float32, os int)
	// act is the activation form the kernel reads (ActQ8 or ActQ8K).
	act ActKind
}

// groups is the 16-token form of a batch of quantized activations.
type groups struct {
	n, nb int       // groups built and blocks per row
	q     []byte    // per group and block: 16 tokens × block bytes, q+128 interleaved by four
	d     []float32 // per group and block: 16 scales
	b     []float32 // ActQ8K: per group and block, 8 sub-block sums × 16 tokens
}

// group returns the activations of form kind (ActQ8 or ActQ8K, prepared) in 16-token form,
// building them on first use for the first ng groups; tokens past Ntok are zero.
func (a *Acts) group(kind ActKind, ng int, p *Pool) *groups {
	g, have := &a.g8k, &a.haveG8k
	bs := QK_K
	if kind == ActQ8 {
		g, have, bs = &a.g8, &a.haveG8, QK8
	}
	if *have && g.n >= ng {
		return g
	}
	nb := a.N / bs
	g.n, g.nb = ng, nb
	g.q = grow(g.q, ng*nb*groupTokens*bs)
	g.d = grow(g.d, ng*nb*groupTokens)
	if kind == ActQ8K {
		g.b = grow(g.b, ng*nb*groupTokens*8)
	}
	p.For(ng*nb, ChunkFor(2*groupTokens*bs), func(lo, hi int) {
		for gb := lo; gb < hi; gb++ {
			gi, blk := gb/nb, gb%nb
			q := g.q[gb*groupTokens*bs : (gb+1)*groupTokens*bs]
			d := g.d[gb*groupTokens : (gb+1)*groupTokens]
			for t := range groupTokens {
				tok := gi*groupTokens + t
				if tok >= a.Ntok {
					for i := range bs / 4 {
						binary.LittleEndian.PutUint32(q[64*i+4*t:], 0x80808080)
					}
					d[t] = 0
					if kind == ActQ8K {
						for j := range 8 {
							g.b[gb*groupTokens*8+16*j+t] = 0
						}
					}
					continue
				}
				var src []int8
				if kind == ActQ8K {
					src = a.q8k[tok*a.N+blk*bs : tok*a.N+(blk+1)*bs]
					d[t] = a.d8k[tok*nb+blk]
					s := a.s8k[(tok*nb+blk)*16 : (tok*nb+blk+1)*16]
					for j := range 8 {
						g.b[gb*groupTokens*8+16*j+t] = float32(int32(s[2*j]) + int32(s[2*j+1]))
					}
				} else {
					src = a.q8[tok*a.N+blk*bs : tok*a.N+(blk+1)*bs]
					d[t] = a.d8[tok*nb+blk]
				}
				for i := range bs / 4 {
					v := uint32(uint8(src[4*i])) | uint32(uint8(src[4*i+1]))<<8 | uint32(uint8(src[4*i+2]))<<16 | uint32(uint8(src[4*i+3]))<<24
					binary.LittleEndian.PutUint32(q[64*i+4*t:], v^0x80808080)
				}
			}
		}
	})
	*have = true
	return g
}

// prepQ4_KGo prepares Q4_K super-blocks: 256 weights (0..15) in element order, then per
// 32-weight sub-block j: −128·Σw as int32, d·sc_j and dmin·m_j as float32 (352 bytes).
func prepQ4_KGo(dst, w []byte, nb int) { prepK8Go(dst, w, nb, 144, unpackQ4_K) }

// prepQ5_KGo prepares Q5_K super-blocks in Q4_K's prepared layout (weights 0..31).
func prepQ5_KGo(dst, w []byte, nb int) { prepK8Go(dst, w, nb, 176, unpackQ5_K) }

func prepK8Go(dst, w []byte, nb, blockBytes int, unpack func(*[256]int8, []byte)) {
	var q [256]int8
	for b := range nb {
		blk := w[b*blockBytes : (b+1)*blockBytes]
		o := dst[b*prepK8Bytes : (b+1)*prepK8Bytes]
		unpack(&q, blk)
		d, dmin := f16le(blk), f16le(blk[2:])
		for j := range 8 {
			var s int32
			for e := 32 * j; e < 32*j+32; e++ {
				o[e] = byte(q[e])
				s += int32(q[e])
			}
			sc, m := codec.ScaleMinK4(j, blk[4:16])
			binary.LittleEndian.PutUint32(o[256+4*j:], uint32(-128*s))
			putF32(o[288+4*j:], d*float32(sc))
			putF32(o[320+4*j:], dmin*float32(m))
		}
	}
}

// prepK8Bytes is the size of a prepared Q4_K or Q5_K super-block.
const prepK8Bytes = 352

// mulK8Go is the pure-Go twin of the Q4_K/Q5_K 16-token kernel.
func mulK8Go(wp []byte, ws, nb int, x *groups, g0, ng int, out []float32, os int) {
	for r := range 2 {
		row := wp[r*ws:]
		for g := g0; g < g0+ng; g++ {
			for t := range groupTokens {
				var total float32
				for blk := range nb {
					gb := g*x.nb + blk
					q := x.q[gb*groupTokens*QK_K:]
					p := row[blk*prepK8Bytes:]
					var sb float32
					for j := range 8 {
						acc := int32(binary.LittleEndian.Uint32(p[256+4*j:]))
						for e := 8 * j; e < 8*j+8; e++ {
							for k := range 4 {
								acc += int32(q[64*e+4*t+k]) * int32(int8(p[4*e+k]))
							}
						}
						sb = fma32(float32(acc), getF32(p[288+4*j:]), sb)
					}
					for j := range 8 {
						sb = fma32(-getF32(p[320+4*j:]), x.b[gb*groupTokens*8+16*j+t], sb)
					}
					total = fma32(x.d[gb*groupTokens+t], sb, total)
				}
				out[r*os+16*(g-g0)+t] = total
			}
		}
	}
}

func putF32(b []byte, v float32) { binary.LittleEndian.PutUint32(b, math.Float32bits(v)) }

func getF32(b []byte) float32 { return f32le(b) }

// groupScratch holds prepared weight rows and kernel outputs for one worker.
type groupScratch struct {
	prep []byte
	out  []float32
}

var groupScratchPool = sync.Pool{New: func() any { return new(groupScratch) }}

// groupRowTile is the most weight rows a worker prepares and multiplies together: each token's
// results for them are contiguous in the output (256 bytes), which the hardware prefetchers
// follow better than single cache lines.
const groupRowTile = 64

// groupBlock is the number of token groups a row pair is multiplied with before the next pair,
// so that their activations (4 KB per super-block and group) stay in the L2 cache.
const groupBlock = 8

// matMulGroups computes tokens [0, ng·16) ∩ [0, Ntok) of MatMul with the 16-token kernel: the
// weight rows are split into tiles of rowTile over the pool, each tile prepared once and then
// multiplied two rows at a time with blocks of groupBlock groups.
func matMulGroups(p *Pool, dst []float32, w Matrix, x *Acts, gk *groupKernel, ng int) {
	g := x.group(gk.act, ng, p)
	rb := w.RowBytes()
	rows, nb := w.Rows, g.nb
	rowPrep := nb * gk.prepBytes
	ntok := min(x.Ntok, ng*groupTokens)
	tileRows := groupRowTile
	for tileRows > rowTile && rows < 4*p.Threads()*tileRows {
		tileRows /= 2 // enough tiles to balance the workers
	}
	p.For((rows+tileRows-1)/tileRows, ChunkFor(tileRows*x.N*ntok), func(lo, hi int) {
		sc := groupScratchPool.Get().(*groupScratch)
		defer groupScratchPool.Put(sc)
		sc.prep = grow(sc.prep, tileRows*rowPrep)
		sc.out = grow(sc.out, tileRows*groupBlock*groupTokens)
		for tile := lo; tile < hi; tile++ {
			r0, r1 := tile*tileRows, min(rows, (tile+1)*tileRows)
			for i := r0; i < r1; i++ {
				gk.prep(sc.prep[(i-r0)*rowPrep:(i-r0+1)*rowPrep], w.Data[i*rb:(i+1)*rb], nb)
			}
			for g0 := 0; g0 < ng; g0 += groupBlock {
				gn := min(groupBlock, ng-g0)
				os := gn * groupTokens
				for i := r0; i < r1; i += 2 {
					ws := rowPrep
					if i+1 == r1 {
						ws = 0 // odd row: the pair is the row twice
					}
					gk.mul(sc.prep[(i-r0)*rowPrep:], ws, nb, g, g0, gn, sc.out[(i-r0)*os:], os)
				}
				// Transpose into dst, where each token's rows r0..r1 are contiguous.
				for gi := g0; gi < g0+gn; gi++ {
					t0, t1 := gi*groupTokens, min(ntok, (gi+1)*groupTokens)
					r := r0
					if t1-t0 == groupTokens {
						for ; r+16 <= r1; r += 16 {
							transpose16(sc.out[(r-r0)*os+(gi-g0)*groupTokens:], os, dst[t0*rows+r:], rows)
						}
					}
					for t := t0; t < t1 && r < r1; t++ {
						d := dst[t*rows+r : t*rows+r1]
						o := sc.out[(r-r0)*os+t-g0*groupTokens:]
						for i := range d {
							d[i] = o[i*os]
						}
					}
				}
			}
		}
	})
}

// prepQ6KBytes is the size of a prepared Q6_K super-block: 256 weights q−32, then per
// 16-weight group: −128·Σw as int32 and d·sc as float32.
const prepQ6KBytes = 384

func prepQ6_KGo(dst, w []byte, nb int) {
	var q [256]int8
	for b := range nb {
		blk := w[b*210 : (b+1)*210]
		o := dst[b*prepQ6KBytes : (b+1)*prepQ6KBytes]
		unpackQ6_K(&q, blk)
		d := f16le(blk[208:])
		for g := range 16 {
			var s int32
			for e := 16 * g; e < 16*g+16; e++ {
				o[e] = byte(q[e])
				s += int32(q[e])
			}
			binary.LittleEndian.PutUint32(o[256+4*g:], uint32(-128*s))
			putF32(o[320+4*g:], d*float32(int8(blk[192+g])))
		}
	}
}

// mulQ6_KGo is the pure-Go twin of the Q6_K 16-token kernel.
func mulQ6_KGo(wp []byte, ws, nb int, x *groups, g0, ng int, out []float32, os int) {
	for r := range 2 {
		row := wp[r*ws:]
		for g := g0; g < g0+ng; g++ {
			for t := range groupTokens {
				var total float32
				for blk := range nb {
					gb := g*x.nb + blk
					q := x.q[gb*groupTokens*QK_K:]
					p := row[blk*prepQ6KBytes:]
					var sb float32
					for grp := range 16 {
						acc := int32(binary.LittleEndian.Uint32(p[256+4*grp:]))
						for e := 4 * grp; e < 4*grp+4; e++ {
							for k := range 4 {
								acc += int32(q[64*e+4*t+k]) * int32(int8(p[4*e+k]))
							}
						}
						sb = fma32(float32(acc), getF32(p[320+4*grp:]), sb)
					}
					total = fma32(x.d[gb*groupTokens+t], sb, total)
				}
				out[r*os+16*(g-g0)+t] = total
			}
		}
	}
}

// prepB32Bytes is the size of a prepared 32-weight block (Q8_0, Q4_0): 32 signed weights,
// −128·Σw as int32 and the scale d as float32.
const prepB32Bytes = 40

func prepQ8_0Go(dst, w []byte, nb int) {
	var q [32]int8
	for b := range nb {
		blk := w[b*34 : (b+1)*34]
		for i := range q {
			q[i] = int8(blk[2+i])
		}
		putB32(dst[b*prepB32Bytes:], &q, f16le(blk))
	}
}

func prepQ4_0Go(dst, w []byte, nb int) {
	var q [32]int8
	for b := range nb {
		blk := w[b*18 : (b+1)*18]
		for i := range 16 {
			q[i] = int8(blk[2+i]&0xF) - 8
			q[i+16] = int8(blk[2+i]>>4) - 8
		}
		putB32(dst[b*prepB32Bytes:], &q, f16le(blk))
	}
}

func putB32(o []byte, q *[32]int8, d float32) {
	var s int32
	for i, v := range q {
		o[i] = byte(v)
		s += int32(v)
	}
	binary.LittleEndian.PutUint32(o[32:], uint32(-128*s))
	putF32(o[36:], d)
}

// mulB32Go is the pure-Go twin of the 32-weight block 16-token kernel.
func mulB32Go(wp []byte, ws, nb int, x *groups, g0, ng int, out []float32, os int) {
	for r := range 2 {
		row := wp[r*ws:]
		for g := g0; g < g0+ng; g++ {
			for t := range groupTokens {
				var c [4]float32
				for blk := range nb {
					gb := g*x.nb + blk
					q := x.q[gb*groupTokens*QK8:]
					p := row[blk*prepB32Bytes:]
					acc := int32(binary.LittleEndian.Uint32(p[32:]))
					for e := range 8 {
						for k := range 4 {
							acc += int32(q[64*e+4*t+k]) * int32(int8(p[4*e+k]))
						}
					}
					c[blk%4] = fma32(float32(acc), getF32(p[36:])*x.d[gb*groupTokens+t], c[blk%4])
				}
				out[r*os+16*(g-g0)+t] = (c[0] + c[1]) + (c[2] + c[3])
			}
		}
	}
}

// transpose16SIMD is the SIMD 16×16 transpose, installed by the architecture files.
var transpose16SIMD func(src *float32, ss int, dst *float32, ds int)

// transpose16 stores the transpose of the 16×16 block of src (rows ss apart) into dst (rows ds
// apart).
func transpose16(src []float32, ss int, dst []float32, ds int) {
	_, _ = src[15*ss+15], dst[15*ds+15]
	if transpose16SIMD != nil && !UsePureGo {
		transpose16SIMD(&src[0], 4*ss, &dst[0], 4*ds)
		return
	}
	for i := range 16 {
		for j := range 16 {
			dst[j*ds+i] = src[i*ss+j]
		}
	}
}
