package convert

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sync"

	"github.com/mcompress/mcompress/convert/gguf"
)

// chunkBytes is the output size of one unit of conversion work: large enough to amortize
// scheduling, small enough that a few chunks in flight bound the memory used. (A variable so
// tests can make tensors span many chunks.)
var chunkBytes int64 = 4 << 20

// Result summarizes a conversion.
type Result struct {
	// Path is the file written.
	Path string `json:"path"`
	// Arch is the GGUF architecture and HFArch the config.json architecture.
	Arch   string `json:"arch"`
	HFArch string `json:"hf_arch,omitempty"`
	// OutType is the weight type written.
	OutType OutType `json:"outtype"`
	// Tensors is the number of tensors written.
	Tensors int `json:"tensors"`
	// Params is the number of parameters (elements of all tensors).
	Params int64 `json:"params"`
	// InputBytes and OutputBytes are the tensor bytes read and the file size written.
	InputBytes  int64 `json:"input_bytes"`
	OutputBytes int64 `json:"output_bytes"`
}

// Convert converts the Hugging Face checkpoint folder dir into the GGUF file out, writing the
// metadata, tensor names, order and types llama.cpp's convert_hf_to_gguf.py writes (see
// docs/CONVERT.md for the few intended differences). Tensors are converted in parallel chunks
// straight from the memory-mapped safetensors files and written in order, so memory use stays
// bounded by a few chunks whatever the model size, and the output is the same for any thread
// count. The file appears atomically: on any error, or when ctx is cancelled, nothing is left at
// out.
func Convert(ctx context.Context, dir, out string, opts Options) (*Result, error) {
	if err := checkOutputDir(out); err != nil {
		return nil, err
	}
	src, err := OpenSource(dir, opts)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if err := WriteGGUF(ctx, src, out, opts); err != nil {
		return nil, err
	}
	res := &Result{Path: out, Arch: src.Config.Arch, HFArch: src.Arch, OutType: src.OutType, Tensors: len(src.Tensors), InputBytes: src.InputSize()}
	for _, t := range src.Tensors {
		res.Params += t.NumElements()
	}
	if f, err := gguf.Open(out); err == nil {
		res.OutputBytes = f.Size()
		f.Close()
	}
	return res, nil
}

// checkOutputDir fails early, naming the folder, when out cannot be created: its folder is
// missing, not a folder, or not writable.
func checkOutputDir(out string) error {
	dir := filepath.Dir(out)
	st, err := os.Stat(dir)
	if err != nil {
		return fmt.Errorf("convert: %w: output folder %s: %v", ErrBadInput, dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("convert: %w: output folder %s is not a folder", ErrBadInput, dir)
	}
	if st, err := os.Stat(out); err == nil && st.IsDir() {
		return fmt.Errorf("convert: %w: output %s is a folder; give a file name", ErrBadInput, out)
	}
	probe, err := os.CreateTemp(dir, ".mcompress-probe-*")
	if err != nil {
		return fmt.Errorf("convert: %w: output folder %s is not writable: %v", ErrBadInput, dir, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// convJob is one chunk of a tensor to convert.
type convJob struct {
	tensor int
	u0, u1 int64
	in     int64 // input bytes covered
	inOff  int64 // offset of those bytes in the tensor's data (-1: not contiguous)
	outOff int64 // offset of buf in the tensor's output data
	buf    []byte
	done   chan struct{}
	last   bool  // last chunk of its tensor
	err    error // from writing the chunk
}

// WriteGGUF writes the tensors of src, with src.Metadata, to the GGUF file out (atomically).
func WriteGGUF(ctx context.Context, src *Source, out string, opts Options) error {
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	total := src.InputSize()
	// Workers write their chunks at their offsets themselves: copying into the page cache is
	// most of a conversion's time, and one writing thread would halve its speed.
	err := gguf.WriteFileAt(out, src.Metadata, src.TensorInfos(), func(w *gguf.TensorWriterAt) error {
		return runPipeline(ctx, src, threads, func(j *convJob) error {
			return w.WriteAt(j.tensor, uint64(j.outOff), j.buf)
		}, func(done int64) {
			if opts.Progress != nil {
				opts.Progress(done, total)
			}
		})
	})
	if err != nil {
		return fmt.Errorf("convert: %s: %w", out, err)
	}
	return nil
}

// runPipeline converts every tensor of src in chunks on threads workers, each of which hands
// its chunks to write (which must be safe for concurrent use). Source pages are released and
// progress reported in order. At most 2*threads+2 chunks exist at any time.
func runPipeline(ctx context.Context, src *Source, threads int, write func(*convJob) error, progress func(int64)) error {
	inflight := 2*threads + 2
	pool := make(chan []byte, inflight)
	for i := 0; i < inflight; i++ {
		pool <- nil
	}
	ordered := make(chan *convJob, inflight)
	work := make(chan *convJob)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for i := 0; i < threads; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			scratch := make([]float32, 1<<14)
			for j := range work {
				src.convertUnits(&src.Tensors[j.tensor], j.u0, j.u1, j.buf, scratch)
				j.err = write(j)
				close(j.done)
			}
		}()
	}
	// Producer: cut tensors into chunks, in order.
	go func() {
		defer close(work)
		defer close(ordered)
		for ti := range src.Tensors {
			t := &src.Tensors[ti]
			unitOut := t.unitElems * outSize(t.Type)
			per := max(chunkBytes/max(unitOut, 1), 1)
			if t.PermuteHeads > 0 && t.unitElems == 1 {
				per = t.units // a permuted vector is converted whole
			}
			inUnit := t.unitElems * int64(t.HFDType.Size())
			if t.HFName == "" {
				inUnit = 0
			}
			for u0 := int64(0); u0 < t.units || (u0 == 0 && t.units == 0); u0 += per {
				u1 := min(u0+per, t.units)
				var buf []byte
				select {
				case buf = <-pool:
				case <-stop:
					return
				}
				n := (u1 - u0) * unitOut
				if int64(cap(buf)) < n {
					buf = make([]byte, n)
				}
				j := &convJob{tensor: ti, u0: u0, u1: u1, in: (u1 - u0) * inUnit, inOff: u0 * inUnit, outOff: u0 * unitOut, buf: buf[:n], done: make(chan struct{}), last: u1 >= t.units}
				if t.PermuteHeads > 0 {
					j.inOff = -1
				}
				select {
				case ordered <- j:
				case <-stop:
					return
				}
				select {
				case work <- j:
				case <-stop:
					close(j.done)
					return
				}
				if t.units == 0 {
					break
				}
			}
		}
	}()
	finish := func(err error) error {
		close(stop)
		for range ordered { // let the producer exit
		}
		wg.Wait()
		return err
	}
	var done int64
	for j := range ordered {
		select {
		case <-j.done:
		case <-ctx.Done():
			return finish(ctx.Err())
		}
		if err := ctx.Err(); err != nil {
			return finish(err)
		}
		if j.err != nil {
			return finish(j.err)
		}
		done += j.in
		if j.last {
			src.Release(j.tensor)
		} else if j.inOff >= 0 {
			src.releaseRange(j.tensor, j.inOff, j.inOff+j.in)
		}
		progress(done)
		pool <- j.buf
	}
	wg.Wait()
	return nil
}
