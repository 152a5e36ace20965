package eval

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/mcompress/mcompress/runtime"
)

// The KL-divergence base file is llama.cpp's --kl-divergence-base format, so that files are
// exchangeable with llama-perplexity in both directions (all little-endian):
//
//	"_logits_"                      8 bytes of magic
//	n_ctx, n_vocab, n_chunk         3 × int32 (n_ctx written as uint32)
//	tokens                          n_chunk × n_ctx × int32: the evaluated token stream
//	per chunk, per scored position  n_ctx-1-n_ctx/2 rows, positions n_ctx/2 .. n_ctx-2,
//	  scale, min_log_prob           2 × float32
//	  q[0..n_vocab)                 n_vocab × uint16: log p_i ≈ min_log_prob + scale·q_i
//	  padding                       uint16 zeros up to nv = 2·⌈n_vocab/2⌉+4 uint16 per row
//
// Each row keeps the logits within 16 nats of the largest, quantized to 16 bits over that
// range (scale = (max-min)/65535); logits further down are stored as 0 and treated as
// probability 0. The size is exactly 20 + 4·n_ctx·n_chunk + 2·nv·(n_ctx-1-n_ctx/2)·n_chunk.
const klMagic = "_logits_"

// klHeaderBytes is the size of the fixed header.
const klHeaderBytes = 8 + 12

// klRowValues is llama.cpp's row stride nv in uint16 values.
func klRowValues(vocab int) int { return 2*((vocab+1)/2) + 4 }

// klBaseWriter writes the rows of a base file as Perplexity scores them.
type klBaseWriter struct {
	w     *bufio.Writer
	vocab int
	nv    int
	err   error
}

// newKLBaseWriter writes the header and the token stream of n chunks.
func newKLBaseWriter(w io.Writer, c chunking, vocab int, tokens []int32) (*klBaseWriter, error) {
	bw := &klBaseWriter{w: bufio.NewWriterSize(w, 1<<20), vocab: vocab, nv: klRowValues(vocab)}
	hdr := make([]byte, 0, klHeaderBytes)
	hdr = append(hdr, klMagic...)
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(c.nctx))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(vocab))
	hdr = binary.LittleEndian.AppendUint32(hdr, uint32(c.n))
	bw.write(hdr)
	tb := make([]byte, 4*c.nctx)
	for i := 0; i < c.n; i++ {
		for j, t := range tokens[i*c.nctx : (i+1)*c.nctx] {
			binary.LittleEndian.PutUint32(tb[4*j:], uint32(t))
		}
		bw.write(tb)
	}
	return bw, bw.err
}

func (bw *klBaseWriter) write(b []byte) {
	if bw.err == nil {
		if _, err := bw.w.Write(b); err != nil {
			bw.err = fmt.Errorf("eval: writing the KL-divergence base: %w", err)
		}
	}
}

// flush pushes buffered rows to the underlying writer.
func (bw *klBaseWriter) flush() error {
	if bw.err == nil {
		if err := bw.w.Flush(); err != nil {
			bw.err = fmt.Errorf("eval: writing the KL-divergence base: %w", err)
		}
	}
	return bw.err
}

// rowBytes is the size of one encoded row.
func (bw *klBaseWriter) rowBytes() int { return 2 * bw.nv }

// encode writes into b (2·nv bytes) the quantized log-probabilities of one row of logits and
// returns the NLL of tok. It touches no shared state.
func (bw *klBaseWriter) encode(b []byte, logits []float32, tok int32) float64 {
	maxl, minl := logits[0], logits[0]
	for _, v := range logits[1:] {
		maxl = max(maxl, v)
		minl = min(minl, v)
	}
	minl = max(minl, maxl-16)
	var sum float64
	for _, v := range logits {
		sum += float64(expf(v - maxl))
	}
	lse := float32(math.Log(sum))
	minLogProb := minl - maxl - lse
	scale := (maxl - minl) / 65535
	clear(b)
	binary.LittleEndian.PutUint32(b[0:], math.Float32bits(scale))
	binary.LittleEndian.PutUint32(b[4:], math.Float32bits(minLogProb))
	if scale != 0 {
		inv := 1 / scale
		for i, v := range logits {
			var q uint16
			if v > minl {
				q = uint16(math.RoundToEven(float64(inv * (v - minl))))
			}
			binary.LittleEndian.PutUint16(b[8+2*i:], q)
		}
	}
	return float64(maxl) + math.Log(sum) - float64(logits[tok])
}

// expf is exp in float32, as C's expf.
func expf(x float32) float32 { return float32(math.Exp(float64(x))) }

// KLBase is an open KL-divergence base file (see the format above): the token stream and the
// base model's quantized log-probabilities, read chunk by chunk.
type KLBase struct {
	// Path is the file's path.
	Path string
	// Context is n_ctx, VocabSize n_vocab and Chunks n_chunk from the header.
	Context, VocabSize, Chunks int
	// Tokens is the evaluated token stream, Chunks × Context tokens.
	Tokens []int32

	f  *os.File
	r  *bufio.Reader
	nv int
}

// OpenKLBase opens a base file written by WriteKLBase, Perplexity's SaveBase or llama.cpp's
// llama-perplexity --kl-divergence-base, and checks its header against its size.
func OpenKLBase(path string) (*KLBase, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, bad(fmt.Errorf("eval: %w", err))
	}
	b, err := readKLBase(f, path)
	if err != nil {
		f.Close()
		return nil, bad(err)
	}
	return b, nil
}

func readKLBase(f *os.File, path string) (*KLBase, error) {
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("eval: %w", err)
	}
	size := st.Size()
	r := bufio.NewReaderSize(f, 1<<20)
	hdr := make([]byte, klHeaderBytes)
	if _, err := io.ReadFull(r, hdr); err != nil || string(hdr[:8]) != klMagic {
		return nil, fmt.Errorf("eval: %s: not a KL-divergence base file (no %q magic)", path, klMagic)
	}
	nctx := int64(binary.LittleEndian.Uint32(hdr[8:]))
	vocab := int64(int32(binary.LittleEndian.Uint32(hdr[12:])))
	nchunk := int64(int32(binary.LittleEndian.Uint32(hdr[16:])))
	if nctx < 4 || nctx > 1<<24 || vocab < 1 || vocab > 1<<24 || nchunk < 1 || nchunk > 1<<30 {
		return nil, fmt.Errorf("eval: %s: implausible header (n_ctx %d, n_vocab %d, n_chunk %d)", path, nctx, vocab, nchunk)
	}
	nv := int64(klRowValues(int(vocab)))
	rows := nctx - 1 - nctx/2
	want := klHeaderBytes + 4*nctx*nchunk + 2*nv*rows*nchunk
	if want != size {
		return nil, fmt.Errorf("eval: %s: %d bytes, but n_ctx %d, n_vocab %d and n_chunk %d need %d (truncated or not a base file)", path, size, nctx, vocab, nchunk, want)
	}
	raw := make([]byte, 4*nctx*nchunk)
	if _, err := io.ReadFull(r, raw); err != nil {
		return nil, fmt.Errorf("eval: %s: reading tokens: %w", path, err)
	}
	toks := make([]int32, nctx*nchunk)
	for i := range toks {
		t := int32(binary.LittleEndian.Uint32(raw[4*i:]))
		if t < 0 || int64(t) >= vocab {
			return nil, fmt.Errorf("eval: %s: token %d at index %d outside the vocabulary of %d", path, t, i, vocab)
		}
		toks[i] = t
	}
	return &KLBase{Path: path, Context: int(nctx), VocabSize: int(vocab), Chunks: int(nchunk), Tokens: toks, f: f, r: r, nv: int(nv)}, nil
}

// Close closes the file.
func (b *KLBase) Close() error {
	if b.f == nil {
		return nil
	}
	err := b.f.Close()
	b.f = nil
	return err
}

// rewind positions the reader at the first row, so that one KLBase can serve several models.
func (b *KLBase) rewind() error {
	if b.f == nil {
		return fmt.Errorf("eval: %s: KL-divergence base is closed", b.Path)
	}
	off := int64(klHeaderBytes) + 4*int64(len(b.Tokens))
	if _, err := b.f.Seek(off, io.SeekStart); err != nil {
		return fmt.Errorf("eval: %s: %w", b.Path, err)
	}
	b.r.Reset(b.f)
	return nil
}

// WriteKLBase evaluates the base model on tokens with llama.cpp's chunking and writes its
// log-probabilities to path (atomically), returning its perplexity.
func WriteKLBase(ctx context.Context, m *runtime.Model, tokens []int32, path string, o PerplexityOptions) (*PerplexityResult, error) {
	return writeAtomically(path, func(w io.Writer) (*PerplexityResult, error) {
		o.SaveBase = w
		return Perplexity(ctx, m, tokens, o)
	})
}

// KLDOptions control KLDivergence.
type KLDOptions struct {
	// MaxChunks limits the chunks compared; 0 means all of the base file's.
	MaxChunks int
	// BatchSize is the runtime's micro-batch (0: the runtime's default).
	BatchSize int
	// Progress, when not nil, is called after each chunk.
	Progress func(done, total int64)
}

// KLDResult holds what llama-perplexity --kl-divergence prints. Probabilities are fractions
// (not percent); uncertainties are standard errors of the means.
type KLDResult struct {
	// PPL and BasePPL are the perplexities of the model and the base on the same tokens.
	PPL                float64 `json:"ppl"`
	PPLUncertainty     float64 `json:"ppl_uncertainty"`
	BasePPL            float64 `json:"base_ppl"`
	BasePPLUncertainty float64 `json:"base_ppl_uncertainty"`
	// Correlation is Cor(ln PPL(Q), ln PPL(base)).
	Correlation float64 `json:"ln_ppl_correlation"`
	// LnPPLRatio is mean ln(PPL(Q)/PPL(base)); PPLRatio its exp; PPLDiff is PPL - BasePPL
	// ("delta perplexity").
	LnPPLRatio            float64 `json:"ln_ppl_ratio"`
	LnPPLRatioUncertainty float64 `json:"ln_ppl_ratio_uncertainty"`
	PPLRatio              float64 `json:"ppl_ratio"`
	PPLRatioUncertainty   float64 `json:"ppl_ratio_uncertainty"`
	PPLDiff               float64 `json:"ppl_diff"`
	PPLDiffUncertainty    float64 `json:"ppl_diff_uncertainty"`
	// MeanKLD is the mean over scored tokens of KL(base || model) in nats; KLD its spread.
	MeanKLD            float64      `json:"mean_kld"`
	MeanKLDUncertainty float64      `json:"mean_kld_uncertainty"`
	KLD                Distribution `json:"kld"`
	// DeltaP is p_model(token) - p_base(token) of the actual next token.
	MeanDeltaP            float64      `json:"mean_delta_p"`
	MeanDeltaPUncertainty float64      `json:"mean_delta_p_uncertainty"`
	DeltaP                Distribution `json:"delta_p"`
	RMSDeltaP             float64      `json:"rms_delta_p"`
	RMSDeltaPUncertainty  float64      `json:"rms_delta_p_uncertainty"`
	// SameTopP is the fraction of positions where the model's most likely token is the base's.
	SameTopP            float64 `json:"same_top_p"`
	SameTopPUncertainty float64 `json:"same_top_p_uncertainty"`
	// Scored tokens and chunks compared; Seconds and TokensPerSecond as in PerplexityResult.
	Scored          int     `json:"scored_tokens"`
	Chunks          int     `json:"chunks"`
	Context         int     `json:"n_ctx"`
	Seconds         float64 `json:"seconds"`
	TokensPerSecond float64 `json:"tokens_per_second"`
}

// Perplexity returns the model's perplexity as a PerplexityResult (the same numbers
// Perplexity gives on the base file's tokens).
func (k *KLDResult) Perplexity() *PerplexityResult {
	return &PerplexityResult{PPL: k.PPL, Uncertainty: k.PPLUncertainty, MeanNLL: math.Log(k.PPL),
		Scored: k.Scored, Chunks: k.Chunks, Context: k.Context, Seconds: k.Seconds, TokensPerSecond: k.TokensPerSecond}
}

// klSums accumulates llama.cpp's kl_divergence_result.
type klSums struct {
	nll, nll2, nllBase, nllBase2, nllNLLBase float64
	kld, kld2                                float64
	pDiff, pDiff2, pDiff4                    float64
	sameTop, count                           int
}

// klRowResult is what one row adds to klSums.
type klRowResult struct {
	nll, nllBase float32
	kld          float64
	d            float32
	sameTop      bool
}

// add accumulates one row, with llama.cpp's float32 products before the float64 sums.
func (s *klSums) add(o klRowResult) {
	s.nll += float64(o.nll)
	s.nll2 += float64(o.nll * o.nll)
	s.nllBase += float64(o.nllBase)
	s.nllBase2 += float64(o.nllBase * o.nllBase)
	s.nllNLLBase += float64(o.nll * o.nllBase)
	s.kld += o.kld
	s.kld2 += o.kld * o.kld
	s.count++
	if o.sameTop {
		s.sameTop++
	}
	s.pDiff += float64(o.d)
	d2 := float64(o.d * o.d)
	s.pDiff2 += d2
	s.pDiff4 += d2 * d2
}

// klCompare compares one row of logits with a base row, as llama.cpp's log_softmax(…, const
// uint16_t *base_log_prob, …, kl_divergence_result &) does (same float32/float64 steps), and
// returns what the row adds to klSums; it touches no shared state.
func klCompare(logits []float32, base []byte, tok int32) klRowResult {
	maxl, imax := logits[0], 0
	for i, v := range logits[1:] {
		if v > maxl {
			maxl, imax = v, i+1
		}
	}
	var sumExp float64
	for _, v := range logits {
		sumExp += float64(expf(v - maxl))
	}
	lse := float32(math.Log(sumExp))
	scale := math.Float32frombits(binary.LittleEndian.Uint32(base[0:]))
	minLogProb := math.Float32frombits(binary.LittleEndian.Uint32(base[4:]))
	q := base[8:]
	qv := func(i int) float32 { return float32(binary.LittleEndian.Uint16(q[2*i:])) }

	nll := maxl + lse - logits[tok]
	nllBase := -(scale*qv(int(tok)) + minLogProb)

	maxl += lse
	var sum float64
	imaxBase := -1
	var pmax float32
	for i, v := range logits {
		pl := scale*qv(i) + minLogProb
		if i == 0 || pl > pmax {
			pmax, imaxBase = pl, i
		}
		if pl > -16 {
			pb := expf(pl)
			sum += float64(pb * (pl - v + maxl))
		}
	}
	pBase := expf(-nllBase)
	p := expf(-nll)
	return klRowResult{nll: nll, nllBase: nllBase, kld: sum, d: p - pBase, sameTop: imax == imaxBase}
}

// KLDivergence evaluates model m on the base file's tokens (chunked as the file was, the first
// token of each chunk replaced by m's BOS when its vocabulary adds one) and compares its
// next-token distributions with the base's: KL(base || m) per scored token, top-1 agreement,
// Δp and both perplexities, as llama-perplexity --kl-divergence reports them.
func KLDivergence(ctx context.Context, m *runtime.Model, base *KLBase, o KLDOptions) (*KLDResult, error) {
	vocab := m.Config().VocabSize
	if vocab != base.VocabSize {
		return nil, bad(fmt.Errorf("eval: %s: base has a vocabulary of %d tokens, the model %d: KL-divergence needs the same vocabulary", base.Path, base.VocabSize, vocab))
	}
	if err := base.rewind(); err != nil {
		return nil, err
	}
	c := chunking{nctx: base.Context, step: base.Context, first: base.Context / 2, n: base.Chunks}
	if o.MaxChunks > 0 {
		c.n = min(c.n, o.MaxChunks)
	}
	cr, err := newChunkRunner(m, c, o.BatchSize)
	if err != nil {
		return nil, err
	}
	rows := c.scoredPerChunk()
	rowBytes := 2 * base.nv
	baseRows := make([][]byte, cr.slots())
	outs := make([][]klRowResult, cr.slots())
	for k := range outs {
		baseRows[k] = make([]byte, rows*rowBytes)
		outs[k] = make([]klRowResult, rows)
	}
	klds := make([]float32, 0, rows*c.n)
	pdiffs := make([]float32, 0, rows*c.n)
	var sums klSums
	start := time.Now()
	err = cr.run(ctx, func(i int) []int32 { return base.Tokens[i*c.nctx : (i+1)*c.nctx] },
		func(k, i int) error {
			if _, err := io.ReadFull(base.r, baseRows[k]); err != nil {
				return fmt.Errorf("eval: %s: reading the log-probabilities of chunk %d: %w", base.Path, i, err)
			}
			return nil
		},
		func(k, i int, logits []float32) {
			off := i * c.nctx
			forRows(rows, cr.rowThreads, func(r int) {
				outs[k][r] = klCompare(logits[r*vocab:(r+1)*vocab], baseRows[k][r*rowBytes:(r+1)*rowBytes], base.Tokens[off+c.first+r+1])
			})
		},
		func(k, i int) error {
			for _, o := range outs[k] {
				sums.add(o)
				klds = append(klds, float32(o.kld))
				pdiffs = append(pdiffs, o.d)
			}
			if o.Progress != nil {
				o.Progress(int64(i+1), int64(c.n))
			}
			return nil
		})
	if err != nil {
		return nil, err
	}
	secs := time.Since(start).Seconds()
	return klFinish(&sums, klds, pdiffs, c, secs), nil
}

// klFinish turns the sums into llama.cpp's final statistics.
func klFinish(s *klSums, klds, pdiffs []float32, c chunking, secs float64) *KLDResult {
	n := s.count
	r := &KLDResult{Scored: n, Chunks: c.n, Context: c.nctx, Seconds: secs}
	if secs > 0 {
		r.TokensPerSecond = float64(c.n*c.nctx) / secs
	}
	lp, lpu := meanAndUncertainty(s.nll, s.nll2, n)
	r.PPL, r.PPLUncertainty = math.Exp(lp), math.Exp(lp)*lpu
	lb, lbu := meanAndUncertainty(s.nllBase, s.nllBase2, n)
	r.BasePPL, r.BasePPLUncertainty = math.Exp(lb), math.Exp(lb)*lbu
	cov := covariance(s.nll, s.nllBase, s.nllNLLBase, n)
	if lpu > 0 && lbu > 0 {
		r.Correlation = cov / (lpu * lbu)
	}
	r.LnPPLRatio = lp - lb
	r.LnPPLRatioUncertainty = math.Sqrt(max(0, lpu*lpu+lbu*lbu-2*cov))
	r.PPLRatio = math.Exp(r.LnPPLRatio)
	r.PPLRatioUncertainty = r.PPLRatio * r.LnPPLRatioUncertainty
	r.PPLDiff = r.PPL - r.BasePPL
	pplCov := r.PPL * r.BasePPL * cov
	r.PPLDiffUncertainty = math.Sqrt(max(0, r.PPLUncertainty*r.PPLUncertainty+r.BasePPLUncertainty*r.BasePPLUncertainty-2*pplCov))
	r.MeanKLD, r.MeanKLDUncertainty = meanAndUncertainty(s.kld, s.kld2, n)
	r.KLD = distribution(klds)
	r.MeanDeltaP, r.MeanDeltaPUncertainty = meanAndUncertainty(s.pDiff, s.pDiff2, n)
	r.DeltaP = distribution(pdiffs)
	mse, mseu := meanAndUncertainty(s.pDiff2, s.pDiff4, n)
	r.RMSDeltaP = math.Sqrt(mse)
	if r.RMSDeltaP > 0 {
		r.RMSDeltaPUncertainty = 0.5 / r.RMSDeltaP * mseu
	}
	if n > 0 {
		r.SameTopP = float64(s.sameTop) / float64(n)
	}
	if n > 1 {
		r.SameTopPUncertainty = math.Sqrt(r.SameTopP * (1 - r.SameTopP) / float64(n-1))
	}
	return r
}
