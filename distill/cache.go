package distill

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"

	"github.com/mcompress/mcompress/internal/atomicfile"
	"github.com/mcompress/mcompress/internal/mmap"
)

// A teacher cache file (offline distillation) holds, for every sequence of a packed dataset,
// its tokens and the teacher's top-k log-probabilities at each position but the last:
//
//	"MCTOPK01"
//	per split: tokens (sequences × seq_len, little-endian uint16, or uint32 for vocabularies
//	           above 65536), rows (each coded as in topk.go, byte-aligned, seq_len−1 per
//	           sequence), index (sequences+1 little-endian uint64 offsets of each sequence's
//	           first row, relative to the rows)
//	footer: JSON (CacheInfo), its length as little-endian uint32, "MCTOPK01"
//
// The footer comes last so the file can be written in one streaming pass.

const cacheMagic = "MCTOPK01"

// maxFooter bounds the JSON footer of a cache file.
const maxFooter = 1 << 20

// CacheInfo is the footer of a teacher cache file.
type CacheInfo struct {
	Version int `json:"version"`
	// Teacher names the teacher the log-probabilities came from.
	Teacher string `json:"teacher"`
	// Vocab is the vocabulary size; TokenizerSHA256 fingerprints the tokenizer (see
	// TokenizerFingerprint) so a student with another vocabulary is refused.
	Vocab           int    `json:"vocab"`
	TokenizerSHA256 string `json:"tokenizer_sha256"`
	// K is the number of log-probabilities per position; LogPBits and LogPStep their coding.
	K        int     `json:"k"`
	LogPBits int     `json:"logp_bits"`
	LogPStep float64 `json:"logp_step"`
	// SeqLen is the length of every sequence.
	SeqLen int `json:"seq_len"`
	// TokenBytes is 2 or 4.
	TokenBytes int `json:"token_bytes"`
	// Splits maps "train" and, when present, "valid" to their sections.
	Splits map[string]CacheSplit `json:"splits"`
	// Shard, in the cache of one shard of a sharded build, says which sequences it holds;
	// MergeCaches joins the shards into the one run's file, which has none.
	Shard *CacheShard `json:"shard,omitempty"`
}

// CacheShard locates a shard's sequences in the whole build.
type CacheShard struct {
	// Index and Count are the shard's I/N.
	Index int `json:"index"`
	Count int `json:"count"`
	// First maps a split to the index of the shard's first sequence; Total to the split's
	// sequences in the whole build.
	First map[string]int `json:"first"`
	Total map[string]int `json:"total"`
}

// CacheSplit locates one split's sections (absolute file offsets).
type CacheSplit struct {
	Sequences    int   `json:"sequences"`
	TokensOffset int64 `json:"tokens_offset"`
	RowsOffset   int64 `json:"rows_offset"`
	RowsBytes    int64 `json:"rows_bytes"`
	IndexOffset  int64 `json:"index_offset"`
	// BytesPerToken is RowsBytes divided by the number of coded positions (for reports).
	BytesPerToken float64 `json:"bytes_per_token"`
}

func (c CacheInfo) codec() topKCodec { return topKCodec{k: c.K, bits: c.LogPBits, step: c.LogPStep} }

// Cache is an open teacher cache file.
type Cache struct {
	Info CacheInfo
	path string
	m    *mmap.File
	data []byte
}

// OpenCache memory-maps and validates the teacher cache file at path. Every offset is checked
// against the file size before use; rows are checked as they are decoded.
func OpenCache(path string) (*Cache, error) {
	m, err := mmap.Open(path)
	if err != nil {
		return nil, badInputf("teacher cache: %v", err)
	}
	c, err := parseCache(m.Bytes())
	if err != nil {
		m.Close()
		return nil, fmt.Errorf("distill: %w: teacher cache %s: %w", ErrBadInput, path, err)
	}
	c.path, c.m = path, m
	return c, nil
}

// parseCache validates the layout of a cache held in memory.
func parseCache(data []byte) (*Cache, error) {
	n := int64(len(data))
	tail := int64(len(cacheMagic) + 4)
	if n < int64(len(cacheMagic))+tail || string(data[:len(cacheMagic)]) != cacheMagic || string(data[n-int64(len(cacheMagic)):]) != cacheMagic {
		return nil, fmt.Errorf("not a teacher cache (magic %q missing)", cacheMagic)
	}
	flen := int64(binary.LittleEndian.Uint32(data[n-tail:]))
	if flen > maxFooter || flen > n-tail-int64(len(cacheMagic)) {
		return nil, fmt.Errorf("footer of %d bytes does not fit in %d bytes", flen, n)
	}
	footStart := n - tail - flen
	var info CacheInfo
	dec := json.NewDecoder(bytes.NewReader(data[footStart : n-tail]))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&info); err != nil {
		return nil, fmt.Errorf("footer: %w", err)
	}
	if info.Version != 1 {
		return nil, fmt.Errorf("version %d not supported (want 1)", info.Version)
	}
	if info.Vocab <= 0 {
		return nil, fmt.Errorf("vocabulary %d", info.Vocab)
	}
	if err := info.codec().validate(info.Vocab); err != nil {
		return nil, err
	}
	if info.SeqLen < 2 || info.SeqLen > 1<<20 {
		return nil, fmt.Errorf("sequence length %d out of range", info.SeqLen)
	}
	want := 2
	if info.Vocab > 1<<16 {
		want = 4
	}
	if info.TokenBytes != want {
		return nil, fmt.Errorf("%d bytes per token for a vocabulary of %d (want %d)", info.TokenBytes, info.Vocab, want)
	}
	if _, ok := info.Splits["train"]; !ok {
		return nil, fmt.Errorf("no train split")
	}
	lo := int64(len(cacheMagic))
	for name, s := range info.Splits {
		if name != "train" && name != "valid" {
			return nil, fmt.Errorf("unknown split %q", name)
		}
		if s.Sequences <= 0 || int64(s.Sequences) > footStart {
			return nil, fmt.Errorf("split %s: %d sequences", name, s.Sequences)
		}
		tokBytes := int64(s.Sequences) * int64(info.SeqLen) * int64(info.TokenBytes)
		idxBytes := int64(s.Sequences+1) * 8
		within := func(off, size int64) bool { return off >= lo && size >= 0 && off <= footStart && size <= footStart-off }
		if !within(s.TokensOffset, tokBytes) || !within(s.RowsOffset, s.RowsBytes) || !within(s.IndexOffset, idxBytes) {
			return nil, fmt.Errorf("split %s: sections out of the file's %d bytes", name, n)
		}
		idx := data[s.IndexOffset : s.IndexOffset+idxBytes]
		prev := uint64(0)
		for i := 0; i <= s.Sequences; i++ {
			o := binary.LittleEndian.Uint64(idx[8*i:])
			if o < prev || o > uint64(s.RowsBytes) || (i == 0 && o != 0) || (i == s.Sequences && o != uint64(s.RowsBytes)) {
				return nil, fmt.Errorf("split %s: row index entry %d (%d) out of order or range", name, i, o)
			}
			prev = o
		}
	}
	return &Cache{Info: info, data: data}, nil
}

// Close releases the memory map.
func (c *Cache) Close() error {
	if c.m == nil {
		return nil
	}
	err := c.m.Close()
	c.m, c.data = nil, nil
	return err
}

// Sequences returns the number of sequences of a split (0 when absent).
func (c *Cache) Sequences(split string) int { return c.Info.Splits[split].Sequences }

// Tokens appends the tokens of sequence i of split to dst.
func (c *Cache) Tokens(split string, i int, dst []int32) ([]int32, error) {
	s, ok := c.Info.Splits[split]
	if !ok || i < 0 || i >= s.Sequences {
		return dst, fmt.Errorf("distill: teacher cache: split %q has no sequence %d", split, i)
	}
	L, tb := c.Info.SeqLen, c.Info.TokenBytes
	b := c.data[s.TokensOffset+int64(i)*int64(L*tb):]
	for t := 0; t < L; t++ {
		var id uint32
		if tb == 2 {
			id = uint32(binary.LittleEndian.Uint16(b[2*t:]))
		} else {
			id = binary.LittleEndian.Uint32(b[4*t:])
		}
		if int(id) >= c.Info.Vocab {
			return dst, fmt.Errorf("distill: %w: teacher cache %s: split %s sequence %d: token %d beyond the vocabulary (%d)", ErrBadInput, c.path, split, i, id, c.Info.Vocab)
		}
		dst = append(dst, int32(id))
	}
	return dst, nil
}

// TopK appends the rows of sequence i of split to tk: SeqLen−1 coded rows and an empty row for
// the last position.
func (c *Cache) TopK(split string, i int, tk *TopKBatch) error {
	s, ok := c.Info.Splits[split]
	if !ok || i < 0 || i >= s.Sequences {
		return fmt.Errorf("distill: teacher cache: split %q has no sequence %d", split, i)
	}
	idx := c.data[s.IndexOffset:]
	lo := binary.LittleEndian.Uint64(idx[8*i:])
	hi := binary.LittleEndian.Uint64(idx[8*i+8:])
	rows := c.data[s.RowsOffset+int64(lo) : s.RowsOffset+int64(hi)]
	codec := c.Info.codec()
	if len(tk.Off) == 0 {
		tk.Off = append(tk.Off, 0)
	}
	for t := 0; t < c.Info.SeqLen-1; t++ {
		n, err := codec.decodeRow(rows, c.Info.Vocab, tk)
		if err != nil {
			return fmt.Errorf("distill: %w: teacher cache %s: split %s sequence %d position %d: %w", ErrBadInput, c.path, split, i, t, err)
		}
		tk.closeRow()
		rows = rows[n:]
	}
	if len(rows) != 0 {
		return fmt.Errorf("distill: %w: teacher cache %s: split %s sequence %d: %d bytes left after its rows", ErrBadInput, c.path, split, i, len(rows))
	}
	tk.emptyRow()
	return nil
}

// rawRows returns the coded rows of sequence i of split as stored.
func (c *Cache) rawRows(split string, i int) ([]byte, error) {
	s, ok := c.Info.Splits[split]
	if !ok || i < 0 || i >= s.Sequences {
		return nil, fmt.Errorf("distill: teacher cache: split %q has no sequence %d", split, i)
	}
	idx := c.data[s.IndexOffset:]
	lo := binary.LittleEndian.Uint64(idx[8*i:])
	hi := binary.LittleEndian.Uint64(idx[8*i+8:])
	if lo > hi || int64(hi) > s.RowsBytes {
		return nil, fmt.Errorf("distill: %w: teacher cache %s: split %s sequence %d: bad row offsets %d..%d", ErrBadInput, c.path, split, i, lo, hi)
	}
	return c.data[s.RowsOffset+int64(lo) : s.RowsOffset+int64(hi)], nil
}

// cacheWriter streams a cache file.
type cacheWriter struct {
	f    *atomicfile.File
	off  int64
	info CacheInfo
}

func newCacheWriter(path string, info CacheInfo) (*cacheWriter, error) {
	f, err := atomicfile.Create(path)
	if err != nil {
		return nil, badInputf("teacher cache: cannot write %s: %v", path, err)
	}
	w := &cacheWriter{f: f, info: info}
	w.info.Version = 1
	w.info.Splits = map[string]CacheSplit{}
	w.info.TokenBytes = 2
	if info.Vocab > 1<<16 {
		w.info.TokenBytes = 4
	}
	if err := w.write([]byte(cacheMagic)); err != nil {
		f.Abort()
		return nil, err
	}
	return w, nil
}

func (w *cacheWriter) write(b []byte) error {
	if _, err := w.f.Write(b); err != nil {
		return fmt.Errorf("distill: teacher cache: %w", err)
	}
	w.off += int64(len(b))
	return nil
}

// split writes one split: its tokens, then the rows of each sequence produced by rows(i) in
// order, then the index.
func (w *cacheWriter) split(name string, seqs [][]int32, rows func(i int) ([]byte, error)) error {
	s := CacheSplit{Sequences: len(seqs), TokensOffset: w.off}
	buf := make([]byte, 0, w.info.SeqLen*w.info.TokenBytes)
	for _, seq := range seqs {
		buf = buf[:0]
		for _, id := range seq {
			if w.info.TokenBytes == 2 {
				buf = binary.LittleEndian.AppendUint16(buf, uint16(id))
			} else {
				buf = binary.LittleEndian.AppendUint32(buf, uint32(id))
			}
		}
		if err := w.write(buf); err != nil {
			return err
		}
	}
	s.RowsOffset = w.off
	index := make([]byte, 0, 8*(len(seqs)+1))
	index = binary.LittleEndian.AppendUint64(index, 0)
	for i := range seqs {
		b, err := rows(i)
		if err != nil {
			return err
		}
		if err := w.write(b); err != nil {
			return err
		}
		index = binary.LittleEndian.AppendUint64(index, uint64(w.off-s.RowsOffset))
	}
	s.RowsBytes = w.off - s.RowsOffset
	s.IndexOffset = w.off
	if err := w.write(index); err != nil {
		return err
	}
	s.BytesPerToken = math.Round(float64(s.RowsBytes)/float64(len(seqs)*(w.info.SeqLen-1))*100) / 100
	w.info.Splits[name] = s
	return nil
}

// commit writes the footer and publishes the file.
func (w *cacheWriter) commit() error {
	foot, err := json.Marshal(w.info)
	if err != nil {
		return err
	}
	foot = binary.LittleEndian.AppendUint32(foot, uint32(len(foot)))
	foot = append(foot, cacheMagic...)
	if err := w.write(foot); err != nil {
		return err
	}
	if err := w.f.Commit(); err != nil {
		return fmt.Errorf("distill: teacher cache: %w", err)
	}
	return nil
}

func (w *cacheWriter) abort() { w.f.Abort() }
