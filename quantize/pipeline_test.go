package quantize

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
)

var smallLlama = llamaShape{layers: 3, hidden: 256, heads: 8, kvHeads: 2, ffn: 512, vocab: 96}

func writeBytes(t *testing.T, src Source, opts Options) ([]byte, *Summary) {
	t.Helper()
	var buf bytes.Buffer
	sum, err := Write(context.Background(), src, &buf, opts)
	if err != nil {
		t.Fatal(err)
	}
	return buf.Bytes(), sum
}

// TestOutputIndependentOfThreads requires byte-identical files whatever the thread count, for
// plain and importance-weighted mixes.
func TestOutputIndependentOfThreads(t *testing.T) {
	src := newLlamaSource(llamaShape{layers: 1, hidden: 512, heads: 8, kvHeads: 2, ffn: 512, vocab: 64}, 3)
	for _, name := range []string{"Q4_K_M", "IQ4_XS", "Q3_K_S", "Q5_1"} {
		for _, im := range []*Imatrix{nil, fullImatrix(src.infos)} {
			opts := Options{Mix: mustMix(t, name), Imatrix: im, Threads: 1}
			want, _ := writeBytes(t, src, opts)
			for _, threads := range []int{2, 7} {
				opts.Threads = threads
				if got, _ := writeBytes(t, src, opts); !bytes.Equal(got, want) {
					t.Errorf("%s imatrix=%v: %d threads give different bytes than 1", name, im != nil, threads)
				}
			}
		}
	}
}

func TestRunWritesAtomicallyAndMatchesWrite(t *testing.T) {
	src := newLlamaSource(smallLlama, 4)
	opts := Options{Mix: mustMix(t, "Q6_K")}
	want, wsum := writeBytes(t, src, opts)
	path := filepath.Join(t.TempDir(), "out.gguf")
	sum, err := Run(context.Background(), src, path, opts)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := os.ReadFile(path)
	if !bytes.Equal(got, want) {
		t.Error("Run and Write differ")
	}
	if sum.FileBytes != int64(len(got)) || wsum.FileBytes != int64(len(got)) {
		t.Errorf("FileBytes %d / %d, file has %d", sum.FileBytes, wsum.FileBytes, len(got))
	}
	f, err := gguf.Parse(got)
	if err != nil {
		t.Fatal(err)
	}
	var weights, tensorBytes int64
	for i, tr := range sum.Tensors {
		ti := f.Tensors[i]
		if tr.Name != ti.Name || tr.Type != ti.Type.String() || tr.Bytes != int64(ti.Size()) {
			t.Errorf("summary %+v, file %s %s %d", tr, ti.Name, ti.Type, ti.Size())
		}
		weights += int64(ti.NumElements())
		tensorBytes += tr.Bytes
		switch {
		case tr.From == tr.Type && tr.RMSE != 0:
			t.Errorf("%s copied but RMSE %g", tr.Name, tr.RMSE)
		case tr.From != tr.Type && !(tr.RMSE > 0 && tr.RMSE < 0.002):
			t.Errorf("%s: RMSE %g for Q6_K of weights with sigma 0.02", tr.Name, tr.RMSE)
		}
	}
	if sum.Weights != weights || sum.TensorBytes != tensorBytes {
		t.Errorf("totals %d weights %d bytes, want %d %d", sum.Weights, sum.TensorBytes, weights, tensorBytes)
	}
	if bpw := float64(tensorBytes) * 8 / float64(weights); math.Abs(sum.BitsPerWeight-bpw) > 1e-12 || bpw < 6.5 || bpw > 8 {
		t.Errorf("bits per weight %g (computed %g)", sum.BitsPerWeight, bpw)
	}
	// The source was asked for each tensor once, in output order.
	if len(src.reads) != 2*len(src.infos) {
		t.Errorf("%d reads for %d tensors in two runs", len(src.reads), len(src.infos))
	}
}

func TestOutputMetadata(t *testing.T) {
	src := newLlamaSource(smallLlama, 5)
	src.md = append(src.md, gguf.KV{Key: "split.count", Value: uint16(1)}, gguf.KV{Key: "zzz.last", Value: "x"})
	im := fullImatrix(src.infos)
	im.Datasets = []string{"calibration.txt"}
	im.ChunkCount = 42
	out, _ := writeBytes(t, src, Options{Mix: mustMix(t, "Q5_K_M"), Imatrix: im, ImatrixFile: "imat.gguf"})
	f, err := gguf.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, kv := range f.Metadata {
		keys = append(keys, kv.Key)
	}
	want := []string{"general.architecture", "general.name", "llama.block_count", "llama.embedding_length",
		"llama.attention.head_count", "llama.attention.head_count_kv", "tokenizer.ggml.model", "zzz.last",
		"general.quantization_version", "general.file_type", "quantize.imatrix.file", "quantize.imatrix.dataset",
		"quantize.imatrix.entries_count", "quantize.imatrix.chunks_count"}
	if strings.Join(keys, " ") != strings.Join(want, " ") {
		t.Errorf("keys\n%v\nwant\n%v", keys, want)
	}
	checks := map[string]any{"general.file_type": uint32(17), "general.quantization_version": uint32(2),
		"quantize.imatrix.file": "imat.gguf", "quantize.imatrix.dataset": "calibration.txt",
		"quantize.imatrix.entries_count": uint32(len(im.Entries)), "quantize.imatrix.chunks_count": uint32(42)}
	for k, v := range checks {
		if got, _ := f.Metadata.Lookup(k); got != v {
			t.Errorf("%s = %v (%T), want %v (%T)", k, got, got, v, v)
		}
	}
}

func TestRunRejectsNonFinite(t *testing.T) {
	for _, bad := range []float32{float32(math.NaN()), float32(math.Inf(-1))} {
		src := newLlamaSource(smallLlama, 6)
		i := indexOf(t, src, "blk.1.ffn_up.weight")
		binary.LittleEndian.PutUint32(src.data[i][4*(3*256+17):], math.Float32bits(bad))
		path := filepath.Join(t.TempDir(), "out.gguf")
		_, err := Run(context.Background(), src, path, Options{Mix: mustMix(t, "Q4_K_M"), Threads: 2})
		if !errors.Is(err, ErrInvalidInput) || !errors.Is(err, ErrNonFinite) {
			t.Fatalf("%v: got %v", bad, err)
		}
		if !strings.Contains(err.Error(), `"blk.1.ffn_up.weight"`) || !strings.Contains(err.Error(), "row 3, column 17") {
			t.Errorf("error does not name the tensor and position: %v", err)
		}
		if entries, _ := os.ReadDir(filepath.Dir(path)); len(entries) != 0 {
			t.Errorf("files left behind: %v", entries)
		}
	}
}

func TestRunRejectsScaleOverflow(t *testing.T) {
	src := newLlamaSource(smallLlama, 7)
	i := indexOf(t, src, "blk.0.attn_q.weight")
	binary.LittleEndian.PutUint32(src.data[i][40:], math.Float32bits(1e6)) // 1e6/8 > 65504
	_, err := Write(context.Background(), src, &bytes.Buffer{}, Options{Mix: mustMix(t, "Q4_0")})
	if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "blk.0.attn_q.weight") {
		t.Errorf("got %v", err)
	}
	// Q8_0's scale (1e6/127) fits.
	if _, err := Write(context.Background(), src, &bytes.Buffer{}, Options{Mix: mustMix(t, "Q8_0")}); err != nil {
		t.Errorf("Q8_0: %v", err)
	}
}

func indexOf(t *testing.T, src *memSource, name string) int {
	t.Helper()
	for i, ti := range src.infos {
		if ti.Name == name {
			return i
		}
	}
	t.Fatalf("no tensor %s", name)
	return -1
}

// toHalf returns copies of src stored as t (F16 or BF16) and as F32, holding the same numbers
// (values rounded to t first).
func toHalf(src *memSource, t gguf.TensorType) (half, f32 *memSource) {
	half = &memSource{md: src.md}
	f32 = &memSource{md: src.md}
	c, _ := Lookup(t)
	for i, ti := range src.infos {
		x := make([]float32, ti.NumElements())
		dtype.DecodeF32(x, src.data[i])
		h := make([]byte, 2*len(x))
		c.QuantizeRow(h, x, nil)
		c.DequantizeRow(x, h)
		b := make([]byte, 4*len(x))
		for j, v := range x {
			binary.LittleEndian.PutUint32(b[4*j:], math.Float32bits(v))
		}
		half.infos = append(half.infos, gguf.TensorInfo{Name: ti.Name, Type: t, Dims: ti.Dims})
		half.data = append(half.data, h)
		f32.infos = append(f32.infos, ti)
		f32.data = append(f32.data, b)
	}
	return half, f32
}

func TestHalfInputQuantizesLikeF32(t *testing.T) {
	for _, ht := range []gguf.TensorType{gguf.TypeF16, gguf.TypeBF16} {
		half, f32 := toHalf(newLlamaSource(smallLlama, 8), ht)
		opts := Options{Mix: mustMix(t, "Q4_K_M")}
		a, _ := writeBytes(t, half, opts)
		b, _ := writeBytes(t, f32, opts)
		fa, _ := gguf.Parse(a)
		fb, _ := gguf.Parse(b)
		n := 0
		for i, ta := range fa.Tensors {
			if !ta.Type.Quantized() {
				if ta.Type != ht {
					t.Errorf("%s: 1-D tensor of a %s file became %s", ta.Name, ht, ta.Type)
				}
				continue
			}
			n++
			if !bytes.Equal(fa.TensorData(i), fb.TensorData(i)) {
				t.Errorf("%s: %s and F32 inputs quantize differently", ta.Name, ht)
			}
		}
		if n == 0 {
			t.Fatal("nothing quantized")
		}
	}
}

func TestRequantize(t *testing.T) {
	base := newLlamaSource(smallLlama, 9)
	q8, err := Write(context.Background(), base, &bytes.Buffer{}, Options{Mix: mustMix(t, "Q8_0")})
	if err != nil || q8 == nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if _, err := Write(context.Background(), base, &buf, Options{Mix: mustMix(t, "Q8_0")}); err != nil {
		t.Fatal(err)
	}
	f, err := gguf.Parse(buf.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	src := &GGUFSource{File: f}
	_, err = Write(context.Background(), src, &bytes.Buffer{}, Options{Mix: mustMix(t, "Q4_K_M")})
	if !errors.Is(err, ErrInvalidInput) || !strings.Contains(err.Error(), "requantiz") {
		t.Fatalf("requantizing without permission: %v", err)
	}
	out, sum := writeBytes(t, src, Options{Mix: mustMix(t, "Q4_K_M"), AllowRequantize: true})
	if _, err := gguf.Parse(out); err != nil {
		t.Fatal(err)
	}
	for _, tr := range sum.Tensors {
		if tr.From == "Q8_0" && tr.Type == "Q8_0" {
			t.Errorf("%s stayed Q8_0 in a Q4_K_M file", tr.Name)
		}
	}
	// Same type in and out: the bytes are copied, even without --allow-requantize.
	same, _ := writeBytes(t, src, Options{Mix: mustMix(t, "Q8_0")})
	g, _ := gguf.Parse(same)
	for i, ti := range g.Tensors {
		j, _ := f.TensorIndex(ti.Name)
		if !bytes.Equal(g.TensorData(i), f.TensorData(j)) {
			t.Errorf("%s: not copied unchanged", ti.Name)
		}
	}
}

func TestImatrixMismatch(t *testing.T) {
	src := newLlamaSource(smallLlama, 10)
	im := fullImatrix(src.infos)
	im.Entries["blk.0.attn_q.weight"] = make([]float32, 100)
	if _, err := MakePlan(src, Options{Mix: mustMix(t, "Q4_K_M"), Imatrix: im}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("wrong size: %v", err)
	}
	im = fullImatrix(src.infos)
	im.Entries["token_embd.weight"] = make([]float32, 100) // ignored with a warning, as llama.cpp
	delete(im.Entries, "blk.2.ffn_up.weight")
	p, err := MakePlan(src, Options{Mix: mustMix(t, "Q4_K_M"), Imatrix: im})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Warnings) != 2 {
		t.Errorf("warnings %q", p.Warnings)
	}
	im.Entries["blk.1.attn_k.weight"][5] = float32(math.Inf(1))
	if _, err := MakePlan(src, Options{Mix: mustMix(t, "Q4_K_M"), Imatrix: im}); !errors.Is(err, ErrInvalidInput) {
		t.Errorf("infinite importance: %v", err)
	}
}

func TestProgressAndCancel(t *testing.T) {
	src := newLlamaSource(smallLlama, 11)
	var calls, last, total int64
	opts := Options{Mix: mustMix(t, "Q4_K_M"), Threads: 3, Progress: func(done, tot int64) {
		calls++
		if done < last {
			t.Errorf("progress went back from %d to %d", last, done)
		}
		last, total = done, tot
	}}
	if _, err := Write(context.Background(), src, &bytes.Buffer{}, opts); err != nil {
		t.Fatal(err)
	}
	var want int64
	for _, ti := range src.infos {
		want += int64(ti.Size())
	}
	if calls < 2 || last != want || total != want {
		t.Errorf("%d calls, last %d of %d, want %d", calls, last, total, want)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	path := filepath.Join(t.TempDir(), "x.gguf")
	if _, err := Run(ctx, src, path, Options{Mix: mustMix(t, "Q4_K_M")}); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled: %v", err)
	}
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Errorf("canceled run left %s", path)
	}
}

// TestMatchesFixtureTypes compares MakePlan's choices with the types recorded in each
// llama-quantize fixture, tensor by tensor (a cheap first check of the whole-file test).
func TestMatchesFixtureTypes(t *testing.T) {
	dir := filepath.Join(llamaDir(t), "gguf")
	src, err := OpenGGUF(filepath.Join(dir, "teacher-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	for _, name := range fixtureMixes {
		f, err := gguf.Open(filepath.Join(dir, "teacher-"+name+".gguf"))
		if err != nil {
			t.Fatal(err)
		}
		p, err := MakePlan(src, Options{Mix: mustMix(t, name)})
		if err != nil {
			t.Fatal(err)
		}
		if len(p.Tensors) != len(f.Tensors) {
			t.Fatalf("%s: %d tensors, fixture has %d", name, len(p.Tensors), len(f.Tensors))
		}
		for i, tp := range p.Tensors {
			if ft := f.Tensors[i]; tp.Name != ft.Name || tp.To != ft.Type {
				t.Errorf("%s: tensor %d is %s %s, llama-quantize wrote %s %s", name, i, tp.Name, tp.To, ft.Name, ft.Type)
			}
		}
		f.Close()
	}
}

// TestPipelineAppliesImatrix checks that each tensor is quantized with its own importance
// weights, and a 3-D expert tensor with each expert's slice (as llama-quantize does).
func TestPipelineAppliesImatrix(t *testing.T) {
	src := newLlamaSource(smallLlama, 12)
	// Add a 3-D expert tensor: 3 experts of 4 rows of 256.
	r := &rng{s: 13}
	exp := gguf.TensorInfo{Name: "blk.0.ffn_down_exps.weight", Type: gguf.TypeF32, Dims: []uint64{256, 4, 3}}
	data := make([]byte, exp.Size())
	for i := 0; i < len(data); i += 4 {
		binary.LittleEndian.PutUint32(data[i:], math.Float32bits(0.02*r.normal()))
	}
	src.infos = append(src.infos, exp)
	src.data = append(src.data, data)
	im := &Imatrix{Entries: map[string][]float32{}}
	for _, ti := range src.infos {
		if len(ti.Dims) < 2 {
			continue
		}
		n := ti.Dims[0]
		if len(ti.Dims) > 2 {
			n *= ti.Dims[2]
		}
		v := make([]float32, n)
		for i := range v {
			v[i] = 0.1 + 5*r.uniform()
		}
		im.Entries[ti.Name] = v
	}
	out, _ := writeBytes(t, src, Options{Mix: mustMix(t, "Q4_K_M"), Imatrix: im})
	f, err := gguf.Parse(out)
	if err != nil {
		t.Fatal(err)
	}
	checked := 0
	for i, ti := range f.Tensors {
		if !ti.Type.Quantized() {
			continue
		}
		j := indexOf(t, src, ti.Name)
		x := make([]float32, ti.NumElements())
		dtype.DecodeF32(x, src.data[j])
		cols := int(ti.Dims[0])
		rows := len(x) / cols
		perMatrix := rows
		if len(ti.Dims) > 2 {
			perMatrix = int(ti.Dims[1])
		}
		want := make([]byte, ti.Size())
		rowBytes := cols / ti.Type.BlockSize() * ti.Type.TypeSize()
		for m := 0; m < rows/perMatrix; m++ {
			w := im.Entries[ti.Name][m*cols : (m+1)*cols]
			r0, r1 := m*perMatrix, (m+1)*perMatrix
			if err := Quantize(ti.Type, want[r0*rowBytes:r1*rowBytes], x[r0*cols:r1*cols], cols, w); err != nil {
				t.Fatal(err)
			}
		}
		if !bytes.Equal(f.TensorData(i), want) {
			t.Errorf("%s (%s): not quantized with its importance weights", ti.Name, ti.Type)
		}
		checked++
	}
	if checked < 20 {
		t.Errorf("only %d tensors checked", checked)
	}
}

// reusingSource hands out every tensor in one buffer that the next TensorData call overwrites,
// as HFSource does: the pipeline must be done with a slice before asking for the next.
type reusingSource struct {
	*memSource
	buf []byte
}

func (s *reusingSource) TensorData(i int) ([]byte, error) {
	data, err := s.memSource.TensorData(i)
	if err != nil {
		return nil, err
	}
	for j := range s.buf {
		s.buf[j] = 0xff // what a half-finished write of the previous tensor would pick up
	}
	s.buf = append(s.buf[:0], data...)
	return s.buf, nil
}

// failingWriter accepts n bytes, then fails.
type failingWriter struct{ n int }

var errWriterFull = errors.New("writer full")

func (w *failingWriter) Write(p []byte) (int, error) {
	if len(p) > w.n {
		k := w.n
		w.n = 0
		return k, errWriterFull
	}
	w.n -= len(p)
	return len(p), nil
}

// TestPipelinedWrites checks the background writes: the bytes equal those of a source whose
// slices stay valid, whatever the source does with a slice once the next is asked for, and a
// write error anywhere ends the run with that error.
func TestPipelinedWrites(t *testing.T) {
	src := newLlamaSource(smallLlama, 12)
	opts := Options{Mix: mustMix(t, "Q4_K_M"), Threads: 2}
	want, _ := writeBytes(t, src, opts)
	got, _ := writeBytes(t, &reusingSource{memSource: newLlamaSource(smallLlama, 12)}, opts)
	if !bytes.Equal(got, want) {
		t.Error("a source that reuses its buffer gives different bytes")
	}
	for _, tc := range []struct {
		name string
		n    int
	}{
		{"in the header", 100},
		{"halfway", len(want) / 2},
		{"in the last tensor", len(want) - 10},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Write(context.Background(), newLlamaSource(smallLlama, 12), &failingWriter{n: tc.n}, opts); !errors.Is(err, errWriterFull) {
				t.Errorf("writer failing after %d of %d bytes: %v", tc.n, len(want), err)
			}
		})
	}
}
