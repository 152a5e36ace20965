package eval

import (
	"bytes"
	"context"
	"encoding/binary"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// randomLogits returns n rows of vocab logits with a few sharp peaks, like a language model's.
func randomLogits(rng *rand.Rand, n, vocab int) []float32 {
	out := make([]float32, n*vocab)
	for i := range out {
		out[i] = float32(rng.NormFloat64() * 2)
	}
	for r := 0; r < n; r++ {
		out[r*vocab+rng.IntN(vocab)] += 12
	}
	return out
}

// writeBaseRow encodes one row of logits and appends it to bw.
func writeBaseRow(bw *klBaseWriter, logits []float32, tok int32) {
	b := make([]byte, bw.rowBytes())
	bw.encode(b, logits, tok)
	bw.write(b)
}

// writeSyntheticBase writes a base file of nchunk chunks from the given logits rows.
func writeSyntheticBase(t *testing.T, c chunking, vocab int, tokens []int32, rows []float32) []byte {
	t.Helper()
	var buf bytes.Buffer
	bw, err := newKLBaseWriter(&buf, c, vocab, tokens)
	if err != nil {
		t.Fatal(err)
	}
	per := c.scoredPerChunk()
	for i := 0; i < c.n; i++ {
		for r := 0; r < per; r++ {
			writeBaseRow(bw, rows[(i*per+r)*vocab:(i*per+r+1)*vocab], tokens[i*c.nctx+c.first+r+1])
		}
	}
	if err := bw.flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestKLBaseFormat(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	const vocab, nctx, nchunk = 101, 16, 3 // odd vocabulary: rows are padded
	c := chunking{nctx: nctx, step: nctx, first: nctx / 2, n: nchunk}
	tokens := make([]int32, nctx*nchunk)
	for i := range tokens {
		tokens[i] = int32(rng.IntN(vocab))
	}
	per := c.scoredPerChunk()
	rows := randomLogits(rng, nchunk*per, vocab)
	raw := writeSyntheticBase(t, c, vocab, tokens, rows)
	nv := 2*((vocab+1)/2) + 4
	if want := 20 + 4*nctx*nchunk + 2*nv*per*nchunk; len(raw) != want {
		t.Fatalf("base file has %d bytes, llama.cpp's layout needs %d", len(raw), want)
	}
	if string(raw[:8]) != "_logits_" || binary.LittleEndian.Uint32(raw[8:]) != nctx ||
		binary.LittleEndian.Uint32(raw[12:]) != vocab || binary.LittleEndian.Uint32(raw[16:]) != nchunk {
		t.Fatalf("bad header % x", raw[:20])
	}
	// The first row decodes to the log-softmax of its logits within the 16-bit step.
	row0 := raw[20+4*nctx*nchunk:]
	scale := math.Float32frombits(binary.LittleEndian.Uint32(row0))
	minLP := math.Float32frombits(binary.LittleEndian.Uint32(row0[4:]))
	lg := rows[:vocab]
	mx := float64(lg[0])
	for _, v := range lg {
		mx = math.Max(mx, float64(v))
	}
	var se float64
	for _, v := range lg {
		se += math.Exp(float64(v) - mx)
	}
	for i, v := range lg {
		lp := float64(v) - mx - math.Log(se)
		q := binary.LittleEndian.Uint16(row0[8+2*i:])
		if lp < -16-math.Log(se) || q == 0 {
			continue
		}
		if got := float64(scale)*float64(q) + float64(minLP); math.Abs(got-lp) > float64(scale) {
			t.Errorf("token %d: stored log-prob %.6f, true %.6f", i, got, lp)
		}
	}
	for k := nv - 4 - (nv - 4 - vocab); k < nv-4; k++ {
		if q := binary.LittleEndian.Uint16(row0[8+2*k:]); q != 0 {
			t.Errorf("padding value %d is %d, want 0", k, q)
		}
	}

	path := filepath.Join(t.TempDir(), "base.kld")
	if err := os.WriteFile(path, raw, 0o644); err != nil {
		t.Fatal(err)
	}
	b, err := OpenKLBase(path)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if b.Context != nctx || b.VocabSize != vocab || b.Chunks != nchunk || len(b.Tokens) != len(tokens) {
		t.Fatalf("header read back as %d %d %d", b.Context, b.VocabSize, b.Chunks)
	}
	for i := range tokens {
		if b.Tokens[i] != tokens[i] {
			t.Fatalf("token %d read back as %d, want %d", i, b.Tokens[i], tokens[i])
		}
	}
	// Comparing the same logits with their own base gives (almost) no divergence and full
	// top-1 agreement; comparing other logits gives a clearly positive one.
	compare := func(logits []float32) *KLDResult {
		if err := b.rewind(); err != nil {
			t.Fatal(err)
		}
		var s klSums
		var klds, pd []float32
		rb := make([]byte, 2*nv)
		for i := 0; i < nchunk; i++ {
			for r := 0; r < per; r++ {
				if _, err := b.r.Read(rb); err != nil {
					t.Fatal(err)
				}
				o := klCompare(logits[(i*per+r)*vocab:(i*per+r+1)*vocab], rb, tokens[i*nctx+c.first+r+1])
				s.add(o)
				klds, pd = append(klds, float32(o.kld)), append(pd, o.d)
			}
		}
		return klFinish(&s, klds, pd, c, 1)
	}
	same := compare(rows)
	if math.Abs(same.MeanKLD) > 1e-4 || same.SameTopP != 1 {
		t.Errorf("self comparison: KLD %g, same top %g", same.MeanKLD, same.SameTopP)
	}
	// The model's PPL is exp of the mean NLL of the scored tokens, computed independently.
	var nll float64
	for i := 0; i < nchunk; i++ {
		for r := 0; r < per; r++ {
			nll += rowNLL(rows[(i*per+r)*vocab:(i*per+r+1)*vocab], tokens[i*nctx+c.first+r+1])
		}
	}
	if want := math.Exp(nll / float64(nchunk*per)); math.Abs(same.PPL/want-1) > 1e-5 {
		t.Errorf("PPL %g, want %g", same.PPL, want)
	}
	other := compare(randomLogits(rng, nchunk*per, vocab))
	if other.MeanKLD < 1 || other.SameTopP > 0.5 || other.KLD.Max < other.KLD.Median || other.KLD.Min > other.KLD.Median {
		t.Errorf("unrelated logits: KLD %g (min %g median %g max %g), same top %g", other.MeanKLD, other.KLD.Min, other.KLD.Median, other.KLD.Max, other.SameTopP)
	}
}

func TestOpenKLBaseErrors(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(3, 4))
	c := chunking{nctx: 8, step: 8, first: 4, n: 2}
	tokens := make([]int32, 16)
	good := writeSyntheticBase(t, c, 10, tokens, randomLogits(rng, 2*c.scoredPerChunk(), 10))
	badTok := append([]byte{}, good...)
	binary.LittleEndian.PutUint32(badTok[20:], 99)
	tests := map[string]struct {
		data []byte
		want string
	}{
		"empty":     {nil, "not a KL-divergence base"},
		"magic":     {append([]byte("_logitz_"), good[8:]...), "not a KL-divergence base"},
		"truncated": {good[:len(good)-1], "truncated"},
		"longer":    {append(append([]byte{}, good...), 0), "truncated or not"},
		"header":    {append(append([]byte{}, good[:12]...), 0, 0, 0, 0x80, 1, 0, 0, 0), "implausible"},
		"token":     {badTok, "outside the vocabulary"},
	}
	for name, tt := range tests {
		p := filepath.Join(dir, name+".kld")
		if err := os.WriteFile(p, tt.data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := OpenKLBase(p)
		if err == nil {
			b.Close()
			t.Errorf("%s: no error", name)
			continue
		}
		if !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), p) {
			t.Errorf("%s: error %q should name %s and say %q", name, err, p, tt.want)
		}
	}
}

func FuzzOpenKLBase(f *testing.F) {
	rng := rand.New(rand.NewPCG(5, 6))
	c := chunking{nctx: 4, step: 4, first: 2, n: 1}
	var buf bytes.Buffer
	bw, _ := newKLBaseWriter(&buf, c, 3, []int32{0, 1, 2, 1})
	writeBaseRow(bw, randomLogits(rng, 1, 3), 1)
	_ = bw.flush()
	f.Add(buf.Bytes())
	f.Add([]byte("_logits_"))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "fuzz.kld")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		b, err := OpenKLBase(p)
		if err != nil {
			return
		}
		defer b.Close()
		if int64(len(b.Tokens)) != int64(b.Context)*int64(b.Chunks) {
			t.Fatalf("%d tokens for %d chunks of %d", len(b.Tokens), b.Chunks, b.Context)
		}
		if err := b.rewind(); err != nil {
			t.Fatal(err)
		}
	})
}

func TestPerplexityErrors(t *testing.T) {
	tests := []struct {
		ntok int
		o    PerplexityOptions
		want string
	}{
		{100, PerplexityOptions{Context: 64, Source: "short.txt"}, "short.txt tokenizes to only 100 tokens"},
		{1000, PerplexityOptions{Context: 2}, "too short"},
		{1000, PerplexityOptions{Context: 64, Stride: 64}, "stride 64"},
		{1000, PerplexityOptions{Context: 64, Stride: -1}, "stride -1"},
	}
	for _, tt := range tests {
		if _, err := plan(tt.ntok, tt.o); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("plan(%d, %+v) = %v, want an error with %q", tt.ntok, tt.o, err, tt.want)
		}
	}
	// Chunk plans: llama.cpp's chunking and the sliding window.
	for _, tt := range []struct {
		ntok                 int
		o                    PerplexityOptions
		n, first, step, rows int
	}{
		{1000, PerplexityOptions{Context: 256}, 3, 128, 256, 127},
		{1000, PerplexityOptions{Context: 256, MaxChunks: 2}, 2, 128, 256, 127},
		{1000, PerplexityOptions{Context: 256, Stride: 64}, 12, 191, 64, 64},
		{1000, PerplexityOptions{Context: 256, Stride: 1}, 745, 254, 1, 1},
		{512, PerplexityOptions{}, 1, 256, 512, 255}, // DefaultContext needs 1024 tokens
	} {
		c, err := plan(tt.ntok, tt.o)
		if tt.ntok < 2*DefaultContext && tt.o.Context == 0 {
			if err == nil {
				t.Errorf("plan(%d, default context): no error", tt.ntok)
			}
			continue
		}
		if err != nil || c.n != tt.n || c.first != tt.first || c.step != tt.step || c.scoredPerChunk() != tt.rows {
			t.Errorf("plan(%d, %+v) = %+v (%d rows), %v; want n %d first %d step %d rows %d", tt.ntok, tt.o, c, c.scoredPerChunk(), err, tt.n, tt.first, tt.step, tt.rows)
		}
	}
	if _, err := Perplexity(context.Background(), nil, make([]int32, 10), PerplexityOptions{Context: 8, Stride: 2, SaveBase: &bytes.Buffer{}}); err == nil {
		t.Error("SaveBase with a stride: no error")
	}
}

func TestReadText(t *testing.T) {
	dir := t.TempDir()
	txt := filepath.Join(dir, "a.txt")
	if err := os.WriteFile(txt, []byte("line one\n\nline two\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadText(txt, defaultDataOptions); err != nil || s != "line one\n\nline two\n" {
		t.Errorf("ReadText(text) = %q, %v", s, err)
	}
	jl := filepath.Join(dir, "b.jsonl")
	if err := os.WriteFile(jl, []byte(`{"text": "first"}`+"\n"+`{"text": "second"}`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if s, err := ReadText(jl, defaultDataOptions); err != nil || s != "first\n\nsecond" {
		t.Errorf("ReadText(jsonl) = %q, %v", s, err)
	}
	bad := filepath.Join(dir, "c.jsonl")
	if err := os.WriteFile(bad, []byte(`{"text": "first"}`+"\n"+`{"text": `+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadText(bad, defaultDataOptions); err == nil || !strings.Contains(err.Error(), "c.jsonl") || !strings.Contains(err.Error(), "2") {
		t.Errorf("ReadText(bad jsonl) error %v should name c.jsonl and line 2", err)
	}
	empty := filepath.Join(dir, "d.txt")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadText(empty, defaultDataOptions); err == nil || !strings.Contains(err.Error(), "d.txt") {
		t.Errorf("ReadText(empty) error %v should name d.txt", err)
	}
}

func TestStats(t *testing.T) {
	v := []float32{5, 1, 4, 2, 3}
	d := distribution(v)
	if d.Min != 1 || d.Max != 5 || d.Median != 3 || d.P25 != 2 || d.P75 != 4 || math.Abs(d.P90-4.6) > 1e-6 {
		t.Errorf("distribution = %+v", d)
	}
	if m := median([]float32{1, 2, 3, 10}); m != 2.5 {
		t.Errorf("median = %v", m)
	}
	// Mean and standard error: values 1..20.
	var s, s2 float64
	for i := 1; i <= 20; i++ {
		s += float64(i)
		s2 += float64(i * i)
	}
	mu, u := meanAndUncertainty(s, s2, 20)
	if mu != 10.5 || math.Abs(u-math.Sqrt(33.25/19)) > 1e-12 {
		t.Errorf("meanAndUncertainty = %v, %v", mu, u)
	}
	if _, u := meanAndUncertainty(s, s2, 10); u != 0 {
		t.Errorf("uncertainty of 10 values = %v, llama.cpp gives 0", u)
	}
}
