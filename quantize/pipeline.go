package quantize

import (
	"context"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/parallel"
	"github.com/mcompress/mcompress/quantize/codec"
)

// QuantizationVersion is the value llama-quantize writes to general.quantization_version
// (GGML_QNT_VERSION).
const QuantizationVersion = 2

// Options configures Run. The zero value of every field but Mix is a sensible default.
type Options struct {
	// Mix is the quantization mix (see ParseMix, MixForBits). Required.
	Mix Mix
	// Pure skips the mix's per-tensor rules: every quantizable tensor gets Mix.Default (the
	// row-length fallbacks still apply).
	Pure bool
	// OutputTensorType, when not nil, is the type of output.weight (and of token_embd.weight
	// when the embeddings are tied).
	OutputTensorType *gguf.TensorType
	// TokenEmbeddingType, when not nil, is the type of token_embd.weight.
	TokenEmbeddingType *gguf.TensorType
	// LeaveOutputTensor keeps output.weight in its input type.
	LeaveOutputTensor bool
	// TensorTypes force types by tensor-name pattern; the first match wins.
	TensorTypes []TensorTypeRule
	// AllowRequantize permits quantizing tensors that are already quantized (they are
	// dequantized first, which loses quality).
	AllowRequantize bool
	// Imatrix holds importance weights per tensor column; nil quantizes without.
	Imatrix *Imatrix
	// ImatrixFile is recorded in quantize.imatrix.file when Imatrix is set.
	ImatrixFile string
	// Threads is the number of goroutines quantizing rows; 0 means runtime.GOMAXPROCS(0). The
	// output does not depend on it.
	Threads int
	// Search fits every block of the quantized tensors with codec.SearchBlock (a stronger
	// scale search, weighted by the imatrix when given) instead of llama.cpp's quantizer, for
	// the types that have a codec.Grid. The layout stays standard; without it the output is
	// byte-identical to llama-quantize's.
	Search bool
	// Prequantized holds tensors already encoded in their planned output type (by GPTQ), by
	// name; they are written as they are instead of being quantized from the source.
	Prequantized map[string][]byte
	// Progress, when not nil, is called with the input bytes processed so far and the total.
	// Calls are serialised and done never decreases.
	Progress func(done, total int64)
}

// TensorPlan is the fate of one tensor.
type TensorPlan struct {
	// Name and Dims (ggml order) of the tensor.
	Name string
	Dims []uint64
	// Index is the tensor's position in Source.Tensors().
	Index int
	// From is the input type, To the output type. From == To means the bytes are copied.
	From, To gguf.TensorType
	// Imatrix holds the importance weights used (Dims[0] per matrix), or nil.
	Imatrix []float32
}

// Convert reports whether the tensor's data change (To differs from From).
func (p TensorPlan) Convert() bool { return p.From != p.To }

// Plan is what Run will write: the output metadata and the tensors in output order.
type Plan struct {
	Mix      Mix
	Metadata gguf.Metadata
	Tensors  []TensorPlan
	// Warnings are notes such as type fallbacks and imatrix entries not found.
	Warnings []string
}

// MakePlan chooses the output type of every tensor of src the way llama-quantize does and builds
// the output metadata. It reads no tensor data.
func MakePlan(src Source, opts Options) (*Plan, error) {
	mix := opts.Mix
	if mix.Name == "" {
		return nil, invalidf("quantize: no mix given")
	}
	if _, ok := Lookup(mix.Default); !ok {
		return nil, fmt.Errorf("quantize: mix %s: no codec for %s", mix.Name, mix.Default)
	}
	if opts.Imatrix != nil {
		for _, name := range opts.Imatrix.Names() {
			if i := firstNonFinite(opts.Imatrix.Entries[name]); i >= 0 {
				return nil, invalidf("quantize: imatrix entry %q: value %d is %v", name, i, opts.Imatrix.Entries[name][i])
			}
		}
	}
	md := src.Metadata()
	infos := src.Tensors()
	order := make([]int, len(infos))
	names := make([]string, len(infos))
	for i := range order {
		order[i] = i
		names[i] = infos[i].Name
	}
	sort.SliceStable(order, func(a, b int) bool { return lessTensorName(infos[order[a]].Name, infos[order[b]].Name) })

	info := ModelInfoFromMetadata(md)
	ch := newTypeChooser(mix, info, &opts, names)
	plan := &Plan{Mix: mix}
	for _, idx := range order {
		t := infos[idx]
		if len(t.Dims) == 0 {
			return nil, invalidf("quantize: tensor %q has no dimensions", t.Name)
		}
		p := TensorPlan{Name: t.Name, Dims: append([]uint64(nil), t.Dims...), Index: idx, From: t.Type, To: t.Type}
		if AllowsQuantization(t.Name, t.Dims, opts.LeaveOutputTensor) {
			to, err := ch.choose(t.Name, t.Dims, t.Type)
			if err != nil {
				return nil, fmt.Errorf("quantize: %w", err)
			}
			p.To = to
		}
		if p.Convert() {
			if err := checkConvertible(p, opts.AllowRequantize); err != nil {
				return nil, err
			}
			if opts.Imatrix != nil {
				if err := attachImatrix(&p, opts.Imatrix, plan); err != nil {
					return nil, err
				}
			}
			if p.Imatrix == nil && requiresImatrix(p.Name, p.To, mix.FileType) {
				if opts.Imatrix == nil { // llama-quantize's words, with the flag that fixes it
					return nil, invalidf("quantize: this quantization requires an importance matrix (--imatrix): offending tensor %q, target type %s (%s mix)", p.Name, p.To, mix.Name)
				}
				return nil, invalidf("quantize: missing importance matrix for tensor %q in a very low-bit quantization (%s)", p.Name, p.To)
			}
		}
		plan.Tensors = append(plan.Tensors, p)
	}
	plan.Warnings = append(plan.Warnings, ch.warnings...)
	plan.Metadata = outputMetadata(md, mix, opts)
	return plan, nil
}

func checkConvertible(p TensorPlan, allowRequantize bool) error {
	if _, ok := Lookup(p.To); !ok {
		return invalidf("quantize: tensor %q: type %s cannot be produced", p.Name, p.To)
	}
	if p.From.Quantized() && !allowRequantize {
		return invalidf("quantize: tensor %q is already %s; requantizing is disabled (use --allow-requantize)", p.Name, p.From)
	}
	if _, ok := Lookup(p.From); !ok {
		return invalidf("quantize: tensor %q: cannot read type %s", p.Name, p.From)
	}
	if p.Dims[0]%uint64(p.To.BlockSize()) != 0 {
		return invalidf("quantize: tensor %q: row length %d is not a multiple of %s's block size %d", p.Name, p.Dims[0], p.To, p.To.BlockSize())
	}
	return nil
}

// attachImatrix looks the tensor up in the importance matrix as llama-quantize does: an entry
// must hold ne0*ne2 values; a mismatch is an error except for the token embeddings.
func attachImatrix(p *TensorPlan, im *Imatrix, plan *Plan) error {
	e, ok := im.Entries[p.Name]
	if !ok {
		plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s: no importance matrix entry", p.Name))
		return nil
	}
	want := p.Dims[0]
	if len(p.Dims) > 2 {
		want *= p.Dims[2]
	}
	if uint64(len(e)) != want {
		if isTokenEmbd(p.Name) {
			plan.Warnings = append(plan.Warnings, fmt.Sprintf("%s: importance matrix has %d values, tensor needs %d; ignored", p.Name, len(e), want))
			return nil
		}
		return invalidf("quantize: tensor %q: importance matrix has %d values, tensor needs %d", p.Name, len(e), want)
	}
	p.Imatrix = e
	return nil
}

// outputMetadata copies md and sets the keys llama-quantize sets, in its order: the quantization
// version and file type move to the end, split keys go, imatrix provenance is appended.
func outputMetadata(md gguf.Metadata, mix Mix, opts Options) gguf.Metadata {
	out := append(gguf.Metadata(nil), md...)
	setLast := func(key string, v any) {
		out.Delete(key)
		out = append(out, gguf.KV{Key: key, Value: v})
	}
	setLast("general.quantization_version", uint32(QuantizationVersion))
	setLast("general.file_type", uint32(mix.FileType))
	for _, k := range []string{"split.no", "split.count", "split.tensors.count"} {
		out.Delete(k)
	}
	if im := opts.Imatrix; im != nil {
		setLast("quantize.imatrix.file", truncate(opts.ImatrixFile, 127))
		if len(im.Datasets) > 0 {
			setLast("quantize.imatrix.dataset", truncate(im.Datasets[0], 127))
		}
		setLast("quantize.imatrix.entries_count", uint32(len(im.Entries)))
		if im.ChunkCount > 0 {
			setLast("quantize.imatrix.chunks_count", uint32(im.ChunkCount))
		}
	}
	return out
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// TensorReport describes one output tensor.
type TensorReport struct {
	Name  string   `json:"name"`
	Shape []uint64 `json:"shape"`
	From  string   `json:"from"`
	Type  string   `json:"type"`
	Bytes int64    `json:"bytes"`
	// RMSE is the root-mean-square difference between the input and the dequantized output
	// (0 for tensors copied unchanged).
	RMSE float64 `json:"rmse"`
}

// Summary reports a finished quantization.
type Summary struct {
	Mix      string         `json:"mix"`
	FileType FileType       `json:"file_type"`
	Tensors  []TensorReport `json:"tensors"`
	// Weights is the number of tensor elements.
	Weights int64 `json:"weights"`
	// InputBytes and TensorBytes are the tensor data in and out; FileBytes the output file.
	InputBytes    int64    `json:"input_bytes"`
	TensorBytes   int64    `json:"tensor_bytes"`
	FileBytes     int64    `json:"file_bytes"`
	BitsPerWeight float64  `json:"bits_per_weight"`
	Seconds       float64  `json:"seconds"`
	Threads       int      `json:"threads"`
	Warnings      []string `json:"warnings,omitempty"`
}

// QuantizeFile quantizes the GGUF file at in into out (written atomically).
func QuantizeFile(ctx context.Context, in, out string, opts Options) (*Summary, error) {
	src, err := OpenGGUF(in)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	if opts.ImatrixFile == "" && opts.Imatrix != nil {
		opts.ImatrixFile = "imatrix"
	}
	return Run(ctx, src, out, opts)
}

// Run quantizes src into a GGUF file at path, written atomically (nothing is left at path on
// error). Errors caused by the input or options wrap ErrInvalidInput.
func Run(ctx context.Context, src Source, path string, opts Options) (*Summary, error) {
	start := time.Now()
	plan, err := MakePlan(src, opts)
	if err != nil {
		return nil, err
	}
	var sum *Summary
	err = gguf.WriteFile(path, plan.Metadata, outputInfos(plan), func(w *gguf.Writer) error {
		var err error
		sum, err = execute(ctx, src, plan, w, opts)
		return err
	})
	if err != nil {
		return nil, err
	}
	if fi, err := os.Stat(path); err == nil {
		sum.FileBytes = fi.Size()
	}
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

// Write quantizes src and streams the GGUF file to w.
func Write(ctx context.Context, src Source, w io.Writer, opts Options) (*Summary, error) {
	start := time.Now()
	plan, err := MakePlan(src, opts)
	if err != nil {
		return nil, err
	}
	cw := &countingWriter{w: w}
	gw, err := gguf.NewWriter(cw, plan.Metadata, outputInfos(plan))
	if err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	sum, err := execute(ctx, src, plan, gw, opts)
	if err != nil {
		return nil, err
	}
	if err := gw.Close(); err != nil {
		return nil, fmt.Errorf("quantize: %w", err)
	}
	sum.FileBytes = cw.n
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

func outputInfos(plan *Plan) []gguf.TensorInfo {
	infos := make([]gguf.TensorInfo, len(plan.Tensors))
	for i, p := range plan.Tensors {
		infos[i] = gguf.TensorInfo{Name: p.Name, Type: p.To, Dims: p.Dims}
	}
	return infos
}

// execute streams every tensor of the plan through the writer. A converted tensor is written
// by a goroutine while the next one is quantized (two output buffers take turns), so that the
// copy into the file does not leave the quantizing threads idle; writes stay in plan order.
func execute(ctx context.Context, src Source, plan *Plan, w *gguf.Writer, opts Options) (_ *Summary, err error) {
	threads := opts.Threads
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	sum := &Summary{Mix: plan.Mix.Name, FileType: plan.Mix.FileType, Threads: threads, Warnings: plan.Warnings}
	infos := src.Tensors()
	prog := &progress{fn: opts.Progress}
	for _, p := range plan.Tensors {
		prog.total += int64(infos[p.Index].Size())
	}
	prog.report()
	wr := &tensorWriter{w: w}
	defer func() {
		if werr := wr.wait(); err == nil && werr != nil {
			err = werr
		}
	}()
	var bufs [2][]byte
	for k, p := range plan.Tensors {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		data, err := src.TensorData(p.Index)
		if err != nil {
			return nil, fmt.Errorf("quantize: tensor %q: %w", p.Name, err)
		}
		in := infos[p.Index]
		if uint64(len(data)) != in.Size() {
			return nil, invalidf("quantize: tensor %q: source gave %d bytes, %s %v needs %d", p.Name, len(data), in.Type, in.Dims, in.Size())
		}
		rep := TensorReport{Name: p.Name, Shape: p.Dims, From: p.From.String(), Type: p.To.String()}
		out := data
		if pre, ok := opts.Prequantized[p.Name]; ok && p.Convert() {
			if uint64(len(pre)) != outputInfoSize(p) {
				return nil, fmt.Errorf("quantize: tensor %q: %d prequantized bytes, %s %v needs %d", p.Name, len(pre), p.To, p.Dims, outputInfoSize(p))
			}
			out = pre
			prog.add(int64(len(data)))
		} else if p.Convert() {
			// bufs[k%2] was last written two tensors ago; that write finished before the
			// previous tensor's began.
			size := int(outputInfoSize(p))
			if cap(bufs[k%2]) < size {
				bufs[k%2] = make([]byte, size)
			}
			out = bufs[k%2][:size]
			rmse, err := convertTensor(ctx, p, data, out, threads, opts.Search, prog)
			if err != nil {
				return nil, err
			}
			rep.RMSE = rmse
		} else {
			prog.add(int64(len(data)))
		}
		if err := wr.wait(); err != nil {
			return nil, err
		}
		// A copied tensor is the source's own slice, valid only until the next TensorData
		// call: it is written before that call.
		wr.start(p.Name, out)
		if !p.Convert() {
			if err := wr.wait(); err != nil {
				return nil, err
			}
		}
		rep.Bytes = int64(len(out))
		sum.Tensors = append(sum.Tensors, rep)
		sum.Weights += int64(in.NumElements())
		sum.InputBytes += int64(len(data))
		sum.TensorBytes += rep.Bytes
	}
	if err := wr.wait(); err != nil {
		return nil, err
	}
	if sum.Weights > 0 {
		sum.BitsPerWeight = float64(sum.TensorBytes) * 8 / float64(sum.Weights)
	}
	return sum, nil
}

// tensorWriter writes one tensor at a time in the background.
type tensorWriter struct {
	w    *gguf.Writer
	done chan error // result of the write in flight; nil when none
}

// start begins writing tensor name; the previous write must have been waited for.
func (t *tensorWriter) start(name string, data []byte) {
	t.done = make(chan error, 1)
	go func(done chan<- error) {
		if err := t.w.WriteTensor(name, data); err != nil {
			done <- fmt.Errorf("quantize: %w", err)
			return
		}
		done <- nil
	}(t.done)
}

// wait returns the result of the write in flight, if any, once it has finished.
func (t *tensorWriter) wait() error {
	if t.done == nil {
		return nil
	}
	err := <-t.done
	t.done = nil
	return err
}

func outputInfoSize(p TensorPlan) uint64 {
	return gguf.TensorInfo{Name: p.Name, Type: p.To, Dims: p.Dims}.Size()
}

// progress serialises Progress callbacks.
type progress struct {
	mu    sync.Mutex
	fn    func(done, total int64)
	done  int64
	total int64
}

func (p *progress) add(n int64) {
	if p.fn == nil {
		return
	}
	p.mu.Lock()
	p.done += n
	p.fn(p.done, p.total)
	p.mu.Unlock()
}

func (p *progress) report() {
	if p.fn != nil {
		p.fn(p.done, p.total)
	}
}

// chunkWeights is the target number of weights per work item; chunks are whole rows and their
// boundaries do not depend on the thread count, so neither do the results.
const chunkWeights = 1 << 14

// chunkResult is what a worker reports for one chunk of rows.
type chunkResult struct {
	sqErr float64
	err   error
}

// convertTensor decodes, checks, quantizes and measures one tensor, its rows split across
// threads goroutines.
func convertTensor(ctx context.Context, p TensorPlan, data, out []byte, threads int, search bool, prog *progress) (float64, error) {
	from, _ := Lookup(p.From)
	to, _ := Lookup(p.To)
	quantizeRow := to.QuantizeRow
	if search {
		if g, ok := codec.LookupGrid(p.To); ok {
			quantizeRow = func(dst []byte, x, im []float32) { searchRow(g, dst, x, im) }
		}
	}
	nPerRow := int(p.Dims[0])
	nRows := int(gguf.TensorInfo{Dims: p.Dims}.NumElements()) / max(nPerRow, 1)
	if nRows == 0 || nPerRow == 0 {
		return 0, nil
	}
	inRow := nPerRow / from.BlockSize() * from.TypeSize()
	outRow := nPerRow / to.BlockSize() * to.TypeSize()
	rowsPerChunk := max(1, chunkWeights/nPerRow)
	nChunks := (nRows + rowsPerChunk - 1) / rowsPerChunk
	results := make([]chunkResult, nChunks)
	rowsPerMatrix := nRows
	if len(p.Dims) > 2 {
		rowsPerMatrix = int(p.Dims[1])
	}
	nMatrices := len(p.Imatrix) / nPerRow
	var failed atomic.Bool
	nw := max(1, min(threads, nChunks))
	xbuf, ybuf := make([][]float32, nw), make([][]float32, nw)
	parallel.For(nw, nChunks, func(w, c int) {
		if xbuf[w] == nil {
			xbuf[w], ybuf[w] = make([]float32, rowsPerChunk*nPerRow), make([]float32, rowsPerChunk*nPerRow)
		}
		x, y := xbuf[w], ybuf[w]
		if failed.Load() {
			return
		}
		if ctx.Err() != nil {
			results[c].err = ctx.Err()
			failed.Store(true)
			return
		}
		r0 := c * rowsPerChunk
		r1 := min(nRows, r0+rowsPerChunk)
		n := (r1 - r0) * nPerRow
		xs, ys := x[:n], y[:n]
		from.DequantizeRow(xs, data[r0*inRow:r1*inRow])
		if i := firstNonFinite(xs); i >= 0 {
			results[c].err = invalid(fmt.Errorf("quantize: tensor %q: row %d, column %d is %v (NaN and infinite weights cannot be quantized): %w",
				p.Name, r0+i/nPerRow, i%nPerRow, xs[i], ErrNonFinite))
			failed.Store(true)
			return
		}
		for r := r0; r < r1; r++ {
			var im []float32
			if nMatrices > 0 {
				m := (r / rowsPerMatrix) % nMatrices
				im = p.Imatrix[m*nPerRow : (m+1)*nPerRow]
			}
			quantizeRow(out[r*outRow:(r+1)*outRow], xs[(r-r0)*nPerRow:(r-r0+1)*nPerRow], im)
		}
		to.DequantizeRow(ys, out[r0*outRow:r1*outRow])
		var sq float64
		for i, v := range ys {
			d := float64(v) - float64(xs[i])
			sq += d * d
		}
		if math.IsNaN(sq) || math.IsInf(sq, 0) {
			i := firstNonFinite(ys)
			results[c].err = invalidf("quantize: tensor %q: row %d does not fit %s (a scale overflows F16; largest |weight| %g)",
				p.Name, r0+max(i, 0)/nPerRow, p.To, maxAbs(xs))
			failed.Store(true)
			return
		}
		results[c].sqErr = sq
		prog.add(int64((r1 - r0) * inRow))
	})
	var total float64
	for _, r := range results {
		if r.err != nil {
			return 0, r.err
		}
		total += r.sqErr
	}
	return math.Sqrt(total / float64(nRows*nPerRow)), nil
}

func maxAbs(x []float32) float32 {
	var m float32
	for _, v := range x {
		m = max(m, abs32(v))
	}
	return m
}
