package distill

import (
	"context"
	"math"
	"os"

	"github.com/mcompress/mcompress/internal/parallel"
	"github.com/mcompress/mcompress/internal/shard"
)

// CacheOptions configure BuildCache.
type CacheOptions struct {
	// Teacher is the teacher model (GGUF or Hugging Face folder).
	Teacher string
	// Data is the text to run the teacher on; its validation part (Valid or ValidFraction) is
	// stored as the "valid" split.
	Data DataOptions
	// SeqLen is the length of the sequences (256).
	SeqLen int
	// K is the number of log-probabilities kept per position (32).
	K int
	// LogPBits and LogPStep code the log-probabilities below the largest one: LogPBits bits
	// (8) in steps of LogPStep nats (1/16).
	LogPBits int
	LogPStep float64
	// Seed splits ValidFraction off the data.
	Seed uint64
	// Threads is the number of threads (0: all cores).
	Threads int
	// Output is the cache file written (atomically).
	Output string
	// Progress, when set, is called with the sequences done and the total.
	Progress func(done, total int64)
	// Shard, when set (Source not empty), builds only its contiguous range of each split's
	// sequences, into a cache that MergeCaches joins with the other shards'.
	Shard shard.Shard
}

// BuildCache runs the teacher once over the data and writes the top-k log-probabilities of
// every position to a cache file for offline distillation (Options.TeacherCache): later epochs
// and later students read it instead of running the teacher. It returns the cache's footer
// (sizes included).
func BuildCache(ctx context.Context, o CacheOptions) (*CacheInfo, error) {
	if o.SeqLen == 0 {
		o.SeqLen = 256
	}
	if o.K == 0 {
		o.K = 32
	}
	if o.LogPBits == 0 {
		o.LogPBits = 8
	}
	if o.LogPStep == 0 {
		o.LogPStep = 1.0 / 16
	}
	if o.SeqLen < 2 {
		return nil, badInputf("teacher cache: sequence length %d must be at least 2", o.SeqLen)
	}
	if o.Output == "" {
		return nil, badInputf("teacher cache: no output file given")
	}
	if st, err := os.Stat(o.Output); err == nil && st.IsDir() {
		return nil, badInputf("teacher cache: output %s is a folder", o.Output)
	}
	if o.Data.Path == "" {
		return nil, badInputf("teacher cache: no data given")
	}
	t, err := OpenTeacher(o.Teacher, o.Threads)
	if err != nil {
		return nil, err
	}
	defer t.Close()
	codec := topKCodec{k: o.K, bits: o.LogPBits, step: o.LogPStep}
	V := t.Vocab()
	if err := codec.validate(V); err != nil {
		return nil, badInputf("teacher cache: %v", err)
	}
	if o.SeqLen > t.Context() {
		return nil, badInputf("teacher cache: sequence length %d exceeds the teacher's context (%d)", o.SeqLen, t.Context())
	}
	p, err := packData(ctx, t.Metadata(), o.Data, o.SeqLen, o.Seed, nil)
	if err != nil {
		return nil, err
	}
	info := CacheInfo{Teacher: displayName(o.Teacher), Vocab: V,
		TokenizerSHA256: TokenizerFingerprint(t.Metadata()), K: o.K, LogPBits: o.LogPBits, LogPStep: o.LogPStep, SeqLen: o.SeqLen}
	if o.Shard.Source != "" {
		cs := &CacheShard{Index: o.Shard.Index, Count: o.Shard.Count, First: map[string]int{}, Total: map[string]int{}}
		for _, sp := range []struct {
			name string
			seqs *[][]int32
		}{{"train", &p.train}, {"valid", &p.valid}} {
			lo, hi := o.Shard.Range(len(*sp.seqs))
			cs.First[sp.name], cs.Total[sp.name] = lo, len(*sp.seqs)
			*sp.seqs = (*sp.seqs)[lo:hi]
		}
		if len(p.train) == 0 {
			return nil, badInputf("teacher cache: shard %s has no training sequence: use fewer shards", o.Shard)
		}
		info.Shard = cs
	}
	w, err := newCacheWriter(o.Output, info)
	if err != nil {
		return nil, err
	}
	defer w.abort()
	total := int64(len(p.train) + len(p.valid))
	var done int64
	L := o.SeqLen
	rowBufs := make([][]byte, L-1)
	var logits []float32
	encode := func(seq []int32) ([]byte, error) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		var err error
		if logits, err = t.Logits(seq, logits[:0]); err != nil {
			return nil, err
		}
		parallel.Range(o.Threads, L-1, 8, func(_, lo, hi int) {
			var sel topKSelector
			var keep []int32
			for r := lo; r < hi; r++ {
				tail := sel.selectRow(logits[r*V:(r+1)*V], o.K)
				rowBufs[r], keep = codec.encodeRow(rowBufs[r][:0], sel.ids, sel.lps, tail, keep)
			}
		})
		var out []byte
		for _, b := range rowBufs {
			out = append(out, b...)
		}
		done++
		if o.Progress != nil {
			o.Progress(done, total)
		}
		return out, nil
	}
	for _, s := range []struct {
		name string
		seqs [][]int32
	}{{"train", p.train}, {"valid", p.valid}} {
		if len(s.seqs) == 0 {
			continue
		}
		if err := w.split(s.name, s.seqs, func(i int) ([]byte, error) { return encode(s.seqs[i]) }); err != nil {
			return nil, err
		}
	}
	if err := w.commit(); err != nil {
		return nil, err
	}
	info = w.info
	return &info, nil
}

// BytesPerToken returns the mean size in bytes of one position's top-k over all splits.
func (c *CacheInfo) BytesPerToken() float64 {
	var b, n float64
	for _, s := range c.Splits {
		b += float64(s.RowsBytes)
		n += float64(s.Sequences * (c.SeqLen - 1))
	}
	if n == 0 {
		return math.NaN()
	}
	return b / n
}
