package datasets

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"

	"github.com/mcompress/mcompress/internal/parallel"
)

// Tokenizer is what the datasets stage needs from a model's tokenizer. runtime/tokenizer's
// types satisfy it through a thin adapter.
type Tokenizer interface {
	// Encode converts text to token ids. addSpecial asks for the special tokens the model
	// adds by itself (usually a leading BOS); Pack always passes false and inserts BOS and
	// EOS as PackOptions say. Encode must be safe for concurrent use when Pack runs more
	// than one worker.
	Encode(text string, addSpecial bool) ([]int32, error)
	// BOS returns the beginning-of-sequence token id, or -1 when the model has none.
	BOS() int32
	// EOS returns the end-of-sequence token id, or -1 when the model has none.
	EOS() int32
}

// Packer cuts a stream of documents' tokens into sequences of exactly SeqLen tokens,
// inserting separators between documents. Documents flow across sequence boundaries, so no
// token is wasted on padding. The zero value is not usable; call NewPacker.
type Packer struct {
	seqLen   int
	bos, eos int32
	buf      []int32
}

// NewPacker returns a Packer for sequences of seqLen tokens that writes bos before and eos
// after every document (a negative id means no separator).
func NewPacker(seqLen int, bos, eos int32) (*Packer, error) {
	if seqLen <= 0 {
		return nil, fmt.Errorf("datasets: sequence length %d must be positive", seqLen)
	}
	return &Packer{seqLen: seqLen, bos: bos, eos: eos}, nil
}

// Add appends one document and returns the sequences it completed, each a new slice of
// exactly SeqLen tokens (nil when none completed).
func (p *Packer) Add(doc []int32) [][]int32 {
	if p.bos >= 0 {
		p.buf = append(p.buf, p.bos)
	}
	p.buf = append(p.buf, doc...)
	if p.eos >= 0 {
		p.buf = append(p.buf, p.eos)
	}
	var out [][]int32
	for len(p.buf) >= p.seqLen {
		out = append(out, append([]int32(nil), p.buf[:p.seqLen]...))
		p.buf = p.buf[p.seqLen:]
	}
	if len(p.buf) == 0 {
		p.buf = nil
	} else if cap(p.buf) > 4*p.seqLen && len(p.buf) < p.seqLen {
		p.buf = append([]int32(nil), p.buf...) // let a long document's backing array go
	}
	return out
}

// Pending returns the tokens waiting for a sequence to fill (fewer than SeqLen).
func (p *Packer) Pending() []int32 { return p.buf }

// Remainder says what Pack does with the tokens left after the last full sequence.
type Remainder int

const (
	// RemainderDrop discards them (the zero value): every sequence has exactly SeqLen tokens.
	RemainderDrop Remainder = iota
	// RemainderKeep returns them as a final, shorter sequence.
	RemainderKeep
	// RemainderPad returns them as a final sequence padded to SeqLen with PackOptions.PadID.
	RemainderPad
)

// PackOptions controls Pack.
type PackOptions struct {
	// SeqLen is the number of tokens per sequence; it must be positive.
	SeqLen int
	// BOS inserts the tokenizer's BOS token before every document.
	BOS bool
	// EOS inserts the tokenizer's EOS token after every document.
	EOS bool
	// Remainder decides the fate of the tokens after the last full sequence.
	Remainder Remainder
	// PadID is the padding token for RemainderPad.
	PadID int32
	// MaxSequences stops after this many full sequences (0: read everything).
	MaxSequences int
	// Workers is the number of goroutines calling Tokenizer.Encode; 0 means GOMAXPROCS.
	// The result is the same for every value.
	Workers int
	// Progress, when set, is called after each batch of documents with the number of
	// documents tokenized and full sequences produced so far.
	Progress func(docs, sequences int64)
}

// Pack reads every record of r, tokenizes its Text (records with empty text are skipped),
// and packs the tokens into sequences as described by opts. Documents are tokenized in
// parallel but packed in reading order, so the result does not depend on Workers. It returns
// an error wrapping ErrEmpty when the data does not fill a single sequence (and no remainder
// is kept).
func Pack(ctx context.Context, r Reader, tok Tokenizer, opts PackOptions) ([][]int32, error) {
	bos, eos := int32(-1), int32(-1)
	if opts.BOS {
		if bos = tok.BOS(); bos < 0 {
			return nil, errors.New("datasets: pack: BOS separators asked for, but the tokenizer has no BOS token")
		}
	}
	if opts.EOS {
		if eos = tok.EOS(); eos < 0 {
			return nil, errors.New("datasets: pack: EOS separators asked for, but the tokenizer has no EOS token")
		}
	}
	p, err := NewPacker(opts.SeqLen, bos, eos)
	if err != nil {
		return nil, err
	}
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	batchSize := 64 * workers
	var (
		seqs  [][]int32
		docs  int64
		batch []*Record
		done  bool
	)
	for !done {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		batch = batch[:0]
		for len(batch) < batchSize {
			rec, err := r.Next()
			if errors.Is(err, io.EOF) {
				done = true
				break
			}
			if err != nil {
				return nil, err
			}
			if rec.Text != "" {
				batch = append(batch, rec)
			}
		}
		toks, err := encodeBatch(tok, batch, workers)
		if err != nil {
			return nil, err
		}
		for _, t := range toks {
			seqs = append(seqs, p.Add(t)...)
			docs++
			if opts.MaxSequences > 0 && len(seqs) >= opts.MaxSequences {
				seqs, done = seqs[:opts.MaxSequences], true
				p.buf = nil
				break
			}
		}
		if opts.Progress != nil {
			opts.Progress(docs, int64(len(seqs)))
		}
	}
	if rest := p.Pending(); len(rest) > 0 {
		switch opts.Remainder {
		case RemainderKeep:
			seqs = append(seqs, append([]int32(nil), rest...))
		case RemainderPad:
			s := make([]int32, opts.SeqLen)
			n := copy(s, rest)
			for i := n; i < len(s); i++ {
				s[i] = opts.PadID
			}
			seqs = append(seqs, s)
		}
	}
	if len(seqs) == 0 {
		return nil, fmt.Errorf("datasets: pack: %d documents with %d leftover tokens do not fill one sequence of %d: %w",
			docs, len(p.Pending()), opts.SeqLen, ErrEmpty)
	}
	return seqs, nil
}

// encodeBatch tokenizes the records' texts on up to workers goroutines; results are in
// record order and the error, if any, is the one of the first failing record.
func encodeBatch(tok Tokenizer, recs []*Record, workers int) ([][]int32, error) {
	out := make([][]int32, len(recs))
	errs := make([]error, len(recs))
	parallel.For(max(1, workers), len(recs), func(_, i int) {
		out[i], errs[i] = tok.Encode(recs[i].Text, false)
	})
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: tokenize: %w", recs[i].where(), err)
		}
	}
	return out, nil
}
