package main

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/quantize/codec"
	"github.com/mcompress/mcompress/runtime/kernels"
)

// kernelRow is one line of `bench --kernels`: the one-token matrix-vector product of one weight
// type against a plain read of the same bytes, both on the same threads in the same run.
type kernelRow struct {
	Type      string  `json:"type"`
	Kernels   string  `json:"kernels"`
	Threads   int     `json:"threads"`
	Bytes     int64   `json:"bytes"`
	KernelGBs float64 `json:"kernel_gb_s"`
	MemoryGBs float64 `json:"memory_read_gb_s"`
	Ratio     float64 `json:"ratio"`
}

// kernelBenchCols is the row length of the benchmark matrices: a 7B model's hidden size, a
// multiple of every block size.
const kernelBenchCols = 4096

// kernelBenchTileRows is how many rows are quantized from random values; the matrix repeats
// them (quantizing hundreds of MiB would take longer than the measurement).
const kernelBenchTileRows = 64

// benchKernels measures every type in types (all types with a kernel when empty) with a matrix
// of about mib MiB, more than a last-level cache holds, so that both the kernel and the plain
// read stream from memory. Each figure is the best of reps passes; the passes alternate
// between the read and the kernel so that both see the same machine load.
func benchKernels(types []gguf.TensorType, mib, threads, reps int) ([]kernelRow, error) {
	if len(types) == 0 {
		types = kernels.SupportedTypes()
	}
	p := kernels.NewPool(threads)
	defer p.Close()
	buf := make([]byte, mib<<20)
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, kernelBenchCols)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	var rows []kernelRow
	for _, t := range types {
		w, err := benchMatrix(t, buf, rng)
		if err != nil {
			return nil, err
		}
		var a kernels.Acts
		a.Reset(x, 1, kernelBenchCols)
		dst := make([]float32, w.Rows)
		kernels.MatMul(p, dst, w, &a) // warm-up; quantizes the activations once
		benchSink += memoryRead(p, w.Data)
		var bestK, bestM time.Duration
		for r := 0; r < reps; r++ {
			t0 := time.Now()
			benchSink += memoryRead(p, w.Data)
			m := time.Since(t0)
			t0 = time.Now()
			kernels.MatMul(p, dst, w, &a)
			k := time.Since(t0)
			if r == 0 || m < bestM {
				bestM = m
			}
			if r == 0 || k < bestK {
				bestK = k
			}
		}
		n := int64(len(w.Data))
		row := kernelRow{Type: t.String(), Kernels: kernels.KernelSet(t), Threads: p.Threads(), Bytes: n,
			KernelGBs: gbPerSecond(n, bestK), MemoryGBs: gbPerSecond(n, bestM)}
		row.Ratio = row.KernelGBs / row.MemoryGBs
		rows = append(rows, row)
	}
	return rows, nil
}

// benchMatrix fills buf with whole rows of type t (a quantized tile of random normal values,
// repeated) and returns them as a matrix.
func benchMatrix(t gguf.TensorType, buf []byte, rng *rand.Rand) (kernels.Matrix, error) {
	rb, err := t.RowSize(kernelBenchCols)
	if err != nil {
		return kernels.Matrix{}, fmt.Errorf("bench --kernels: %w", err)
	}
	rows := len(buf) / int(rb)
	if rows < kernelBenchTileRows {
		return kernels.Matrix{}, fmt.Errorf("bench --kernels: %d bytes hold only %d rows of %s; give a larger --kernel-mib", len(buf), rows, t)
	}
	src := make([]float32, kernelBenchTileRows*kernelBenchCols)
	for i := range src {
		src[i] = float32(rng.NormFloat64())
	}
	tile := buf[:kernelBenchTileRows*int(rb)]
	switch t {
	case gguf.TypeF32:
		dtype.EncodeF32(tile, src)
	case gguf.TypeF16:
		dtype.EncodeF16(tile, src)
	case gguf.TypeBF16:
		dtype.EncodeBF16(tile, src)
	default:
		// The codebook types refuse to quantize without importance weights; uniform ones give
		// the plain weighting.
		var imatrix []float32
		if codec.RequiresImatrix(t) {
			imatrix = make([]float32, kernelBenchCols)
			for i := range imatrix {
				imatrix[i] = 1
			}
		}
		if err := quantize.Quantize(t, tile, src, kernelBenchCols, imatrix); err != nil {
			return kernels.Matrix{}, fmt.Errorf("bench --kernels: %w", err)
		}
	}
	data := buf[:rows*int(rb)]
	for off := len(tile); off < len(data); off += len(tile) {
		copy(data[off:], tile)
	}
	w, err := kernels.NewMatrix(t, rows, kernelBenchCols, data)
	if err != nil {
		return kernels.Matrix{}, fmt.Errorf("bench --kernels: %w", err)
	}
	return w, nil
}

// benchSink keeps the sums of memoryRead, so that the compiler cannot drop the reads.
var benchSink uint64

// memoryReadChunk is the bytes each task of memoryRead sums.
const memoryReadChunk = 1 << 20

// memoryRead sums b as 64-bit words on the pool's threads: the plain memory read that a
// memory-bound kernel should approach.
func memoryRead(p *kernels.Pool, b []byte) uint64 {
	n := (len(b) + memoryReadChunk - 1) / memoryReadChunk
	sums := make([]uint64, n)
	p.For(n, 1, func(lo, hi int) {
		for c := lo; c < hi; c++ {
			sums[c] = sumWords(b[c*memoryReadChunk : min(len(b), (c+1)*memoryReadChunk)])
		}
	})
	var s uint64
	for _, v := range sums {
		s += v
	}
	return s
}

// sumWords adds b's little-endian 64-bit words (a trailing partial word is ignored) with four
// independent sums, so that the loop is limited by loads, not by the additions.
func sumWords(b []byte) uint64 {
	var s0, s1, s2, s3 uint64
	for ; len(b) >= 32; b = b[32:] {
		s0 += binary.LittleEndian.Uint64(b)
		s1 += binary.LittleEndian.Uint64(b[8:])
		s2 += binary.LittleEndian.Uint64(b[16:])
		s3 += binary.LittleEndian.Uint64(b[24:])
	}
	for ; len(b) >= 8; b = b[8:] {
		s0 += binary.LittleEndian.Uint64(b)
	}
	return s0 + s1 + s2 + s3
}

func gbPerSecond(n int64, d time.Duration) float64 {
	return float64(n) / max(d.Seconds(), 1e-9) / 1e9
}

// computeBound lists the types whose one-token kernels do enough arithmetic per weight byte
// (bit unpacking, several scales per block) to stay below the memory read on a machine with few
// cores: 0.1 to 0.5 of it on a 2-core AVX-512 machine, where the others reach 0.5 to 1.4.
// checkKernelRows holds them to computeBoundShare of the floor.
var computeBound = map[gguf.TensorType]bool{
	gguf.TypeQ4_1: true, gguf.TypeQ5_0: true, gguf.TypeQ5_1: true, gguf.TypeQ2_K: true,
	gguf.TypeQ3_K: true, gguf.TypeQ5_K: true, gguf.TypeIQ4_NL: true, gguf.TypeIQ4_XS: true,
}

// computeBoundShare is the part of the floor that computeBound types must reach.
const computeBoundShare = 0.25

// kernelFloor returns the least ratio that a kernel of type typ must reach under floor.
func kernelFloor(typ string, floor float64) float64 {
	if t, err := gguf.ParseTensorType(typ); err == nil && computeBound[t] {
		return floor * computeBoundShare
	}
	return floor
}

// checkKernelRows returns a gate error naming every row whose ratio is below its floor
// (kernelFloor; nil when floor is 0 or all pass). The pure-Go kernels are not checked: they
// are not expected to keep up with memory.
func checkKernelRows(rows []kernelRow, floor float64) error {
	if floor <= 0 {
		return nil
	}
	var slow []string
	for _, r := range rows {
		if min := kernelFloor(r.Type, floor); r.Kernels != "purego" && r.Ratio < min {
			slow = append(slow, fmt.Sprintf("%s %.2f < %.2f", r.Type, r.Ratio, min))
		}
	}
	if len(slow) > 0 {
		return gateError{msg: "bench --kernels: kernels below their share of the memory read (ratio < floor): " + strings.Join(slow, ", ")}
	}
	return nil
}
