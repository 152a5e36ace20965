package quantize

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"sort"
	"strings"

	"github.com/mcompress/mcompress/convert/gguf"
)

// Imatrix is an importance matrix as llama-imatrix writes it, normalised the way llama-quantize
// loads it: for each tensor, the mean of the squared activations seen by each input column.
type Imatrix struct {
	// Entries maps a tensor name ("blk.0.ffn_down.weight") to its per-column importance. For a
	// 3-D expert tensor with ne0 columns, the values of expert e are at [e*ne0, (e+1)*ne0).
	Entries map[string][]float32
	// Datasets names the text files the statistics were collected on.
	Datasets []string
	// ChunkCount is the number of chunks processed (0 when unknown).
	ChunkCount int
	// ChunkSize is the tokens per chunk (GGUF format only; 0 otherwise).
	ChunkSize int
	// Legacy reports the old binary .dat format.
	Legacy bool
}

// Names returns the entry names in sorted order.
func (im *Imatrix) Names() []string {
	names := make([]string, 0, len(im.Entries))
	for n := range im.Entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// ImatrixStats are an importance matrix's raw statistics, as llama-imatrix accumulates them and
// stores them in its GGUF file: for each weight, the sums of the squared activations entering
// each input column and the number of activation vectors summed. They are plain data, additive
// and mergeable (Merge), and the one form an importance matrix is written in (WriteGGUF);
// Imatrix gives the normalised form quantizers use.
type ImatrixStats struct {
	// Entries maps a weight name ("blk.0.ffn_down.weight") to its statistics.
	Entries map[string]ColumnStats
	// Datasets names the texts the statistics were collected on.
	Datasets []string
	// ChunkCount is the number of chunks processed; ChunkSize their length in tokens.
	ChunkCount, ChunkSize int
}

// ColumnStats are one weight's sums of squared input activations: per input column, the sum
// over the activation vectors seen of x_j², in float64. The same numbers are Wanda's squared
// column norms ‖X_j‖².
type ColumnStats struct {
	// Sums holds len(Counts) blocks of Cols() sums: one block for a dense matrix, one per
	// expert for a 3-D expert tensor (ggml shape [Cols, len(Counts)]).
	Sums []float64
	// Counts holds, per block, the number of activation vectors summed.
	Counts []int64
}

// Cols returns the number of input columns.
func (c ColumnStats) Cols() int {
	if len(c.Counts) == 0 {
		return 0
	}
	return len(c.Sums) / len(c.Counts)
}

// Names returns the entry names in sorted order.
func (s *ImatrixStats) Names() []string {
	names := make([]string, 0, len(s.Entries))
	for n := range s.Entries {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Imatrix returns the statistics normalised as llama-quantize loads them: for each column the
// mean squared activation sum/count (in float32), or 1 where the count is 0.
func (s *ImatrixStats) Imatrix() *Imatrix {
	im := &Imatrix{Entries: make(map[string][]float32, len(s.Entries)), Datasets: append([]string{}, s.Datasets...),
		ChunkCount: s.ChunkCount, ChunkSize: s.ChunkSize}
	for name, e := range s.Entries {
		ne0 := e.Cols()
		v := make([]float32, len(e.Sums))
		for j, c := range e.Counts {
			for i := j * ne0; i < (j+1)*ne0; i++ {
				if c > 0 {
					v[i] = float32(e.Sums[i]) / float32(c)
				} else {
					v[i] = 1
				}
			}
		}
		im.Entries[name] = v
	}
	return im
}

// Merge adds o's statistics to s, as llama-imatrix --in-file does with several files: sums and
// counts of the same weight are added element by element (so the result does not depend on
// map order), weights only o has are copied, chunk counts are added and o's datasets appended.
// The chunk size becomes o's when s has none. Statistics of the same weight with different
// shapes are an error, and s is then left unchanged.
func (s *ImatrixStats) Merge(o *ImatrixStats) error {
	for _, name := range o.Names() {
		a, ok := s.Entries[name]
		b := o.Entries[name]
		if ok && (len(a.Sums) != len(b.Sums) || len(a.Counts) != len(b.Counts)) {
			return invalidf("imatrix: merge: %q has %d sums over %d counts in one and %d over %d in the other",
				name, len(a.Sums), len(a.Counts), len(b.Sums), len(b.Counts))
		}
	}
	if s.Entries == nil {
		s.Entries = map[string]ColumnStats{}
	}
	for _, name := range o.Names() {
		b := o.Entries[name]
		a, ok := s.Entries[name]
		if !ok {
			s.Entries[name] = ColumnStats{Sums: append([]float64{}, b.Sums...), Counts: append([]int64{}, b.Counts...)}
			continue
		}
		for i, v := range b.Sums {
			a.Sums[i] += v
		}
		for i, c := range b.Counts {
			a.Counts[i] += c
		}
	}
	s.ChunkCount += o.ChunkCount
	if s.ChunkSize == 0 {
		s.ChunkSize = o.ChunkSize
	}
	s.Datasets = append(s.Datasets, o.Datasets...)
	return nil
}

// Stats returns im as raw statistics with every count set to count (sums = value·count), for
// tools and tests that produce importance matrices from normalised values. Each entry becomes
// one matrix (expert blocks are not told apart).
func (im *Imatrix) Stats(count int64) *ImatrixStats {
	s := &ImatrixStats{Entries: make(map[string]ColumnStats, len(im.Entries)), Datasets: append([]string{}, im.Datasets...),
		ChunkCount: im.ChunkCount, ChunkSize: im.ChunkSize}
	for name, v := range im.Entries {
		sums := make([]float64, len(v))
		for i, x := range v {
			sums[i] = float64(x) * float64(count)
		}
		s.Entries[name] = ColumnStats{Sums: sums, Counts: []int64{count}}
	}
	return s
}

// The GGUF imatrix layout (llama.cpp tools/imatrix/imatrix.cpp, common/imatrix-loader.cpp).
const (
	imatrixSumSuffix   = ".in_sum2"
	imatrixCountSuffix = ".counts"
	imatrixKeyDatasets = "imatrix.datasets"
	imatrixKeyChunks   = "imatrix.chunk_count"
	imatrixKeyChunkLen = "imatrix.chunk_size"
)

// ReadImatrix reads an importance matrix file in either format llama-imatrix writes: GGUF
// (recognised by its magic) or the legacy binary format.
func ReadImatrix(path string) (*Imatrix, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, invalidf("imatrix: %w", err)
		}
		return nil, fmt.Errorf("imatrix: %w", err)
	}
	im, err := ParseImatrix(data)
	if err != nil {
		return nil, fmt.Errorf("imatrix: %s: %w", path, err)
	}
	return im, nil
}

// ParseImatrix parses an importance matrix held in memory, in GGUF or legacy format. Every
// error wraps ErrInvalidInput.
func ParseImatrix(data []byte) (*Imatrix, error) {
	if len(data) >= 4 && string(data[:4]) == gguf.Magic {
		return ParseImatrixGGUF(data)
	}
	return ParseImatrixLegacy(data)
}

// ParseImatrixGGUF parses the GGUF format of llama-imatrix (see ParseImatrixStats) and
// normalises the values as llama-quantize does: sum/count, or 1 where the count is 0.
func ParseImatrixGGUF(data []byte) (*Imatrix, error) {
	s, err := ParseImatrixStats(data)
	if err != nil {
		return nil, err
	}
	return s.Imatrix(), nil
}

// ReadImatrixStats reads the raw statistics of a GGUF importance matrix file (the legacy
// format keeps no counts). Input errors wrap ErrInvalidInput.
func ReadImatrixStats(path string) (*ImatrixStats, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, invalidf("imatrix: %w", err)
		}
		return nil, fmt.Errorf("imatrix: %w", err)
	}
	s, err := ParseImatrixStats(data)
	if err != nil {
		return nil, fmt.Errorf("imatrix: %s: %w", path, err)
	}
	return s, nil
}

// ParseImatrixStats parses the GGUF format of llama-imatrix: for each weight NAME, an F32 tensor
// NAME.in_sum2 of shape [ne0, n_mat] holding summed squared activations and an F32 tensor
// NAME.counts of shape [1, n_mat] holding how many activations were summed per matrix (expert),
// rounded to the nearest integer as llama-quantize does (negative counts read as 0); metadata
// imatrix.datasets (string array), imatrix.chunk_count and imatrix.chunk_size (u32). Every
// error wraps ErrInvalidInput.
func ParseImatrixStats(data []byte) (*ImatrixStats, error) {
	f, err := gguf.Parse(data)
	if err != nil {
		return nil, invalid(err)
	}
	if len(f.Tensors) == 0 {
		return nil, invalidf("GGUF imatrix has no tensors")
	}
	md := f.Metadata
	if !md.Has(imatrixKeyDatasets) || !md.Has(imatrixKeyChunks) || !md.Has(imatrixKeyChunkLen) {
		return nil, invalidf("GGUF imatrix lacks metadata %s, %s or %s (not written by llama-imatrix?)",
			imatrixKeyDatasets, imatrixKeyChunks, imatrixKeyChunkLen)
	}
	s := &ImatrixStats{Entries: map[string]ColumnStats{}}
	s.Datasets, _ = md.Strings(imatrixKeyDatasets)
	if v, ok := md.Uint(imatrixKeyChunks); ok && v <= math.MaxInt32 {
		s.ChunkCount = int(v)
	}
	if v, ok := md.Uint(imatrixKeyChunkLen); ok && v <= math.MaxInt32 {
		s.ChunkSize = int(v)
	}
	type pair struct{ sums, counts int }
	pairs := map[string]*pair{}
	for i, t := range f.Tensors {
		var name string
		isSum := false
		if n, ok := strings.CutSuffix(t.Name, imatrixSumSuffix); ok {
			name, isSum = n, true
		} else if n, ok := strings.CutSuffix(t.Name, imatrixCountSuffix); ok {
			name = n
		} else {
			continue
		}
		p := pairs[name]
		if p == nil {
			p = &pair{-1, -1}
			pairs[name] = p
		}
		if isSum {
			p.sums = i
		} else {
			p.counts = i
		}
	}
	for name, p := range pairs {
		if p.sums < 0 || p.counts < 0 {
			return nil, invalidf("entry %q: mismatched %s and %s tensors", name, imatrixSumSuffix, imatrixCountSuffix)
		}
		st, ct := f.Tensors[p.sums], f.Tensors[p.counts]
		if st.Type != gguf.TypeF32 || ct.Type != gguf.TypeF32 {
			return nil, invalidf("entry %q: sums are %s and counts %s, both must be F32", name, st.Type, ct.Type)
		}
		nval, ncounts := int(st.NumElements()), int(ct.NumElements())
		if ncounts == 0 || nval == 0 || nval%ncounts != 0 {
			return nil, invalidf("entry %q: %d sums cannot be split over %d counts", name, nval, ncounts)
		}
		sums, counts := f.TensorData(p.sums), f.TensorData(p.counts)
		e := ColumnStats{Sums: make([]float64, nval), Counts: make([]int64, ncounts)}
		for j := range e.Counts {
			c := math.Round(float64(math.Float32frombits(binary.LittleEndian.Uint32(counts[4*j:])))) // lround
			if !(c < 1<<62) {
				return nil, invalidf("entry %q: count %v of matrix %d is not a number of activations", name, c, j)
			}
			e.Counts[j] = int64(max(c, 0))
		}
		for k := range e.Sums {
			e.Sums[k] = float64(math.Float32frombits(binary.LittleEndian.Uint32(sums[4*k:])))
		}
		s.Entries[name] = e
	}
	return s, nil
}

// ParseImatrixLegacy parses llama-imatrix's original binary format (little-endian): int32
// entry count; per entry int32 name length, the name, int32 ncall, int32 nval and nval float32
// values (already averaged per call and multiplied by ncall); then optionally int32 chunk count,
// int32 dataset-name length and the dataset name. Values are divided by ncall as llama-quantize
// does.
func ParseImatrixLegacy(data []byte) (*Imatrix, error) {
	r := bytes.NewReader(data)
	i32 := func(what string) (int32, error) {
		var v int32
		if err := binary.Read(r, binary.LittleEndian, &v); err != nil {
			return 0, invalidf("legacy imatrix: %s at offset %d: truncated", what, len(data)-r.Len())
		}
		return v, nil
	}
	n, err := i32("entry count")
	if err != nil {
		return nil, err
	}
	if n < 1 {
		return nil, invalidf("legacy imatrix: %d entries (not an imatrix file?)", n)
	}
	// Every entry needs at least 16 bytes (three int32 and one value).
	if int64(n) > int64(r.Len())/16 {
		return nil, invalidf("legacy imatrix: %d entries cannot fit in %d bytes (not an imatrix file?)", n, len(data))
	}
	im := &Imatrix{Entries: make(map[string][]float32, n), Legacy: true}
	for i := 0; i < int(n); i++ {
		l, err := i32(fmt.Sprintf("entry %d name length", i))
		if err != nil {
			return nil, err
		}
		if l < 0 || int(l) > r.Len() {
			return nil, invalidf("legacy imatrix: entry %d: name length %d past end of file", i, l)
		}
		nameBytes := make([]byte, l)
		_, _ = r.Read(nameBytes)
		// C reads the name into a NUL-terminated buffer and stops at the first NUL.
		name := string(nameBytes)
		if k := strings.IndexByte(name, 0); k >= 0 {
			name = name[:k]
		}
		ncall, err := i32(fmt.Sprintf("entry %q ncall", name))
		if err != nil {
			return nil, err
		}
		nval, err := i32(fmt.Sprintf("entry %q value count", name))
		if err != nil {
			return nil, err
		}
		if nval < 1 || int64(nval)*4 > int64(r.Len()) {
			return nil, invalidf("legacy imatrix: entry %q: %d values do not fit in the %d bytes left", name, nval, r.Len())
		}
		raw := make([]byte, 4*int(nval))
		_, _ = r.Read(raw)
		e := make([]float32, nval)
		for k := range e {
			v := math.Float32frombits(binary.LittleEndian.Uint32(raw[4*k:]))
			if ncall > 0 {
				v /= float32(ncall)
			}
			e[k] = v
		}
		im.Entries[name] = e
	}
	if r.Len() > 0 {
		if c, err := i32("chunk count"); err == nil {
			im.ChunkCount = int(c)
			if l, err := i32("dataset name length"); err == nil && l > 0 && int(l) <= r.Len() {
				ds := make([]byte, l)
				_, _ = r.Read(ds)
				if k := bytes.IndexByte(ds, 0); k >= 0 {
					ds = ds[:k]
				}
				im.Datasets = append(im.Datasets, string(ds))
			}
		}
	}
	return im, nil
}

// WriteGGUF writes s atomically in llama-imatrix's GGUF format, the one writer of importance
// matrices: metadata general.type = "imatrix", imatrix.datasets, imatrix.chunk_count and
// imatrix.chunk_size (u32); for each weight NAME, in sorted order, an F32 tensor NAME.in_sum2
// of ggml shape [ne0, n_mat] with the sums (rounded to float32) and an F32 tensor NAME.counts of
// shape [1, n_mat] with the counts. Like ggml's GGUF writer, which llama-imatrix uses, it drops
// trailing dimensions of 1: a dense matrix's tensors are stored as [ne0] and [1].
// llama-quantize --imatrix and ReadImatrix read it.
func (s *ImatrixStats) WriteGGUF(path string) error {
	names := s.Names()
	if len(names) == 0 {
		return fmt.Errorf("imatrix: %s: no statistics to write", path)
	}
	md := gguf.Metadata{
		{Key: "general.type", Value: "imatrix"},
		{Key: imatrixKeyDatasets, Value: gguf.Array{Type: gguf.ValueString, Values: append([]string{}, s.Datasets...)}},
		{Key: imatrixKeyChunks, Value: uint32(s.ChunkCount)},
		{Key: imatrixKeyChunkLen, Value: uint32(s.ChunkSize)},
	}
	tensors := make([]gguf.TensorInfo, 0, 2*len(names))
	blobs := make([][]byte, 0, 2*len(names))
	for _, name := range names {
		e := s.Entries[name]
		nmat := len(e.Counts)
		if nmat == 0 || len(e.Sums) == 0 || len(e.Sums)%nmat != 0 {
			return fmt.Errorf("imatrix: %s: entry %q: %d sums cannot be split over %d counts", path, name, len(e.Sums), nmat)
		}
		sumDims, countDims := []uint64{uint64(len(e.Sums) / nmat)}, []uint64{1}
		if nmat > 1 {
			sumDims, countDims = append(sumDims, uint64(nmat)), append(countDims, uint64(nmat))
		}
		tensors = append(tensors,
			gguf.TensorInfo{Name: name + imatrixSumSuffix, Type: gguf.TypeF32, Dims: sumDims},
			gguf.TensorInfo{Name: name + imatrixCountSuffix, Type: gguf.TypeF32, Dims: countDims})
		sums := make([]byte, 0, 4*len(e.Sums))
		for _, v := range e.Sums {
			sums = binary.LittleEndian.AppendUint32(sums, math.Float32bits(float32(v)))
		}
		counts := make([]byte, 0, 4*nmat)
		for _, c := range e.Counts {
			counts = binary.LittleEndian.AppendUint32(counts, math.Float32bits(float32(c)))
		}
		blobs = append(blobs, sums, counts)
	}
	err := gguf.WriteFile(path, md, tensors, func(w *gguf.Writer) error {
		for i, b := range blobs {
			if err := w.WriteTensor(tensors[i].Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("imatrix: %w", err)
	}
	return nil
}
