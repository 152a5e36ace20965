package distill

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"math/rand/v2"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/datasets"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// DataOptions say where the training and validation text is and how to read it.
type DataOptions struct {
	// Path is the training data: any file or Hugging Face dataset folder package datasets
	// reads (text, JSON Lines, Parquet, Arrow).
	Path string
	// Read controls how Path is read (format, split, text column, text mode).
	Read datasets.Options
	// Valid is the held-out data; "" splits ValidFraction of Path's sequences off instead.
	Valid string
	// ValidRead controls how Valid is read (for a dataset folder, its Split picks the
	// validation split).
	ValidRead datasets.Options
	// ValidFraction is the share of training sequences held out when Valid is "" (0: none, no
	// validation).
	ValidFraction float64
	// ValidSequences caps the number of validation sequences (0: all).
	ValidSequences int
}

// packed holds tokenized data.
type packed struct {
	train, valid [][]int32
}

// packData tokenizes and packs the data into sequences of seqLen tokens (BOS before and EOS
// after each document, as the tokenizer has them; the remainder is dropped). Validation
// sequences get their first token replaced by BOS, as llama.cpp's perplexity tool does.
func packData(ctx context.Context, md gguf.Metadata, o DataOptions, seqLen int, seed uint64, progress func(docs, seqs int64)) (*packed, error) {
	tok, err := tokenizer.FromGGUF(md)
	if err != nil {
		return nil, badInputf("data: the model's tokenizer: %v", err)
	}
	ad := tokAdapter{tok}
	pack := func(path string, ro datasets.Options) ([][]int32, error) {
		r, err := datasets.Open(path, ro)
		if err != nil {
			return nil, badInputf("data: %v", err)
		}
		defer r.Close()
		seqs, err := datasets.Pack(ctx, r, ad, datasets.PackOptions{SeqLen: seqLen, BOS: tok.BOS() >= 0, EOS: tok.EOS() >= 0, Progress: progress})
		if err != nil {
			if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
				return nil, err
			}
			if errors.Is(err, datasets.ErrEmpty) {
				return nil, badInputf("data %s: fewer tokens than one sequence of %d: %v", path, seqLen, err)
			}
			return nil, badInputf("data %s: %v", path, err)
		}
		return seqs, nil
	}
	p := &packed{}
	if p.train, err = pack(o.Path, o.Read); err != nil {
		return nil, err
	}
	switch {
	case o.Valid != "":
		if p.valid, err = pack(o.Valid, o.ValidRead); err != nil {
			return nil, err
		}
	case o.ValidFraction > 0:
		if len(p.train) < 2 {
			return nil, badInputf("data %s: %d sequence of %d tokens cannot be split into training and validation", o.Path, len(p.train), seqLen)
		}
		if p.train, p.valid, err = datasets.SplitValidation(p.train, o.ValidFraction, seed); err != nil {
			return nil, badInputf("data: %v", err)
		}
	}
	if bos := tok.BOS(); bos >= 0 {
		for i, s := range p.valid {
			s = append([]int32(nil), s...)
			s[0] = bos
			p.valid[i] = s
		}
	}
	if o.ValidSequences > 0 && len(p.valid) > o.ValidSequences {
		p.valid = p.valid[:o.ValidSequences]
	}
	return p, nil
}

// hashSeqs fingerprints token sequences (for checkpoints: resuming on other data is refused).
func hashSeqs(seqs ...[][]int32) string {
	h := sha256.New()
	var b [4]byte
	for _, ss := range seqs {
		binary.LittleEndian.PutUint32(b[:], uint32(len(ss)))
		h.Write(b[:])
		for _, s := range ss {
			for _, id := range s {
				binary.LittleEndian.PutUint32(b[:], uint32(id))
				h.Write(b[:])
			}
		}
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkTokens reports a token id outside a vocabulary.
func checkTokens(seqs [][]int32, vocab int, what string) error {
	for i, s := range seqs {
		for j, id := range s {
			if id < 0 || int(id) >= vocab {
				return badInputf("%s: sequence %d position %d: token %d outside the vocabulary (%d)", what, i, j, id, vocab)
			}
		}
	}
	return nil
}

// sampler hands out training sequences in a seeded order, epoch after epoch: each epoch is a
// permutation of all sequences drawn with a seed from the run's random generator. Its whole
// state is (rng state, epoch seed, epoch, position), which checkpoints save.
type sampler struct {
	n         int
	rng       *rand.PCG
	epoch     int
	pos       int // next index into perm
	epochSeed uint64
	perm      []int
}

func newSampler(n int, seed uint64) *sampler {
	s := &sampler{n: n, rng: rand.NewPCG(seed, 0x73616d706c6572)}
	s.startEpoch(0)
	return s
}

func (s *sampler) startEpoch(e int) {
	s.epoch, s.pos = e, 0
	s.epochSeed = s.rng.Uint64()
	s.perm = datasets.Permutation(s.n, s.epochSeed)
}

// next returns the index of the next training sequence.
func (s *sampler) next() int {
	if s.pos == s.n {
		s.startEpoch(s.epoch + 1)
	}
	i := s.perm[s.pos]
	s.pos++
	return i
}
