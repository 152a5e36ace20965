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

// ParseImatrixGGUF parses the GGUF format of llama-imatrix: for each weight NAME, an F32 tensor
// NAME.in_sum2 of shape [ne0, n_mat] holding summed squared activations and an F32 tensor
// NAME.counts of shape [1, n_mat] holding how many activations were summed per matrix (expert);
// metadata imatrix.datasets (string array), imatrix.chunk_count and imatrix.chunk_size (u32).
// Values are normalised as llama-quantize does: sum/count, or 1 where the count is 0.
func ParseImatrixGGUF(data []byte) (*Imatrix, error) {
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
	im := &Imatrix{Entries: map[string][]float32{}}
	im.Datasets, _ = md.Strings(imatrixKeyDatasets)
	if v, ok := md.Uint(imatrixKeyChunks); ok && v <= math.MaxInt32 {
		im.ChunkCount = int(v)
	}
	if v, ok := md.Uint(imatrixKeyChunkLen); ok && v <= math.MaxInt32 {
		im.ChunkSize = int(v)
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
		ne0 := nval / ncounts
		e := make([]float32, nval)
		for j := 0; j < ncounts; j++ {
			c := math.Float32frombits(binary.LittleEndian.Uint32(counts[4*j:]))
			count := float32(math.Round(float64(c))) // lround, then back to float
			for i := 0; i < ne0; i++ {
				k := j*ne0 + i
				if count > 0 {
					e[k] = math.Float32frombits(binary.LittleEndian.Uint32(sums[4*k:])) / count
				} else {
					e[k] = 1
				}
			}
		}
		im.Entries[name] = e
	}
	return im, nil
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

// WriteImatrixGGUF writes im in llama-imatrix's GGUF layout (with every count set to count),
// for tools and tests that produce importance matrices. Entries are written in sorted order.
func WriteImatrixGGUF(path string, im *Imatrix, count float32) error {
	md := gguf.Metadata{
		{Key: "general.type", Value: "imatrix"},
		{Key: imatrixKeyDatasets, Value: gguf.Array{Type: gguf.ValueString, Values: append([]string{}, im.Datasets...)}},
		{Key: imatrixKeyChunks, Value: uint32(im.ChunkCount)},
		{Key: imatrixKeyChunkLen, Value: uint32(im.ChunkSize)},
	}
	var tensors []gguf.TensorInfo
	var blobs [][]byte
	for _, name := range im.Names() {
		v := im.Entries[name]
		tensors = append(tensors,
			gguf.TensorInfo{Name: name + imatrixSumSuffix, Type: gguf.TypeF32, Dims: []uint64{uint64(len(v)), 1}},
			gguf.TensorInfo{Name: name + imatrixCountSuffix, Type: gguf.TypeF32, Dims: []uint64{1, 1}})
		sums := make([]byte, 4*len(v))
		for i, x := range v {
			binary.LittleEndian.PutUint32(sums[4*i:], math.Float32bits(x*count))
		}
		blobs = append(blobs, sums, binary.LittleEndian.AppendUint32(nil, math.Float32bits(count)))
	}
	return gguf.WriteFile(path, md, tensors, func(w *gguf.Writer) error {
		for i, b := range blobs {
			if err := w.WriteTensor(tensors[i].Name, b); err != nil {
				return err
			}
		}
		return nil
	})
}
