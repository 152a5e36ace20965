package quantize

import (
	"context"
	"fmt"
	"io"
	"path/filepath"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/mcompress/mcompress/convert/gguf"
)

// benchTypes are the codecs the quantize benchmarks cover.
var benchTypes = []gguf.TensorType{gguf.TypeQ4_0, gguf.TypeQ4_1, gguf.TypeQ5_0, gguf.TypeQ5_1, gguf.TypeQ8_0,
	gguf.TypeQ2_K, gguf.TypeQ3_K, gguf.TypeQ4_K, gguf.TypeQ5_K, gguf.TypeQ6_K, gguf.TypeQ8_K,
	gguf.TypeIQ4_NL, gguf.TypeIQ4_XS}

// benchMatrix returns 64 rows of 4096 weight-like values.
func benchMatrix() (x []float32, rows, cols int) {
	rows, cols = 64, 4096
	r := &rng{s: 7}
	x = make([]float32, rows*cols)
	for i := range x {
		x[i] = 0.02 * r.normal()
	}
	return x, rows, cols
}

// BenchmarkQuantize measures each codec's throughput in MB/s of float32 input, on one core
// and with rows split over every core (threads=N).
func BenchmarkQuantize(b *testing.B) {
	x, rows, cols := benchMatrix()
	for _, tt := range benchTypes {
		c, _ := Lookup(tt)
		rowBytes := cols / c.BlockSize() * c.TypeSize()
		dst := make([]byte, rows*rowBytes)
		for _, threads := range []int{1, runtime.GOMAXPROCS(0)} {
			b.Run(fmt.Sprintf("%s/threads=%d", tt, threads), func(b *testing.B) {
				b.SetBytes(int64(4 * len(x)))
				c0 := cpuTime()
				defer func() { reportCPU(b, int64(4*len(x)), c0) }()
				for b.Loop() {
					var wg sync.WaitGroup
					per := (rows + threads - 1) / threads
					for t := 0; t < threads; t++ {
						wg.Add(1)
						go func(r0 int) {
							defer wg.Done()
							for r := r0; r < min(rows, r0+per); r++ {
								c.QuantizeRow(dst[r*rowBytes:(r+1)*rowBytes], x[r*cols:(r+1)*cols], nil)
							}
						}(t * per)
					}
					wg.Wait()
				}
			})
		}
	}
}

// BenchmarkDequantize measures each codec's decoding throughput in MB/s of float32 output.
func BenchmarkDequantize(b *testing.B) {
	x, rows, cols := benchMatrix()
	for _, tt := range benchTypes {
		c, _ := Lookup(tt)
		dst := make([]byte, rows*cols/c.BlockSize()*c.TypeSize())
		if err := Quantize(tt, dst, x, cols, nil); err != nil {
			b.Fatal(err)
		}
		y := make([]float32, len(x))
		b.Run(tt.String(), func(b *testing.B) {
			b.SetBytes(int64(4 * len(x)))
			c0 := cpuTime()
			defer func() { reportCPU(b, int64(4*len(x)), c0) }()
			for b.Loop() {
				c.DequantizeRow(y, dst)
			}
		})
	}
}

// BenchmarkRunQ4_K_M measures the whole pipeline (plan, quantize, RMSE, write) on the shared
// teacher-F32.gguf, in MB/s of F32 input, with all cores.
func BenchmarkRunQ4_K_M(b *testing.B) {
	dir := filepath.Join(llamaDir(b), "gguf")
	src, err := OpenGGUF(filepath.Join(dir, "teacher-F32.gguf"))
	if err != nil {
		b.Fatal(err)
	}
	defer src.Close()
	mix, _ := ParseMix("Q4_K_M")
	var in int64
	for _, t := range src.Tensors() {
		in += int64(t.Size())
	}
	b.SetBytes(in)
	c0 := cpuTime()
	defer func() { reportCPU(b, in, c0) }()
	for b.Loop() {
		if _, err := Write(context.Background(), src, io.Discard, Options{Mix: mix}); err != nil {
			b.Fatal(err)
		}
	}
}

// reportCPU adds the metric "MB/cpu-s": input megabytes per CPU-second of this process since c0.
// On a machine shared with other work it shows what the code would do with whole cores; divide
// by the thread count's CPU share for wall-clock speed.
func reportCPU(b *testing.B, bytesPerOp int64, c0 time.Duration) {
	if d := cpuTime() - c0; d > 0 {
		b.ReportMetric(float64(bytesPerOp)*float64(b.N)/1e6/d.Seconds(), "MB/cpu-s")
	}
}
