package safetensors

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"

	"github.com/mcompress/mcompress/internal/atomicfile"
)

// SingleFile is the name of an unsharded checkpoint's tensor file.
const SingleFile = "model.safetensors"

// ShardName returns the name transformers gives shard i (1-based) of n.
func ShardName(i, n int) string { return fmt.Sprintf("model-%05d-of-%05d.safetensors", i, n) }

// PlanShards splits tensors, in order, into shards of at most maxSize data bytes the way
// transformers' save_pretrained does: a tensor that would overflow the current shard starts a
// new one, and a tensor larger than maxSize gets a shard of its own. maxSize <= 0 means one shard.
// It returns, for each shard, the number of tensors it holds.
func PlanShards(tensors []TensorInfo, maxSize int64) ([]int, error) {
	var counts []int
	var cur int64
	n := 0
	for _, t := range tensors {
		size, err := byteSize(t.DType, t.Shape)
		if err != nil {
			return nil, fmt.Errorf("safetensors: tensor %q: %w", t.Name, err)
		}
		if maxSize > 0 && n > 0 && cur+size > maxSize {
			counts = append(counts, n)
			n, cur = 0, 0
		}
		n++
		cur += size
	}
	if n > 0 || len(counts) == 0 {
		counts = append(counts, n)
	}
	return counts, nil
}

// ShardedWriter streams the tensors of a (possibly) sharded checkpoint in order, switching files
// as each shard fills.
type ShardedWriter struct {
	shards []*Writer
	cur    int
}

// WriteTensor writes the whole data of the next tensor, which must be named name.
func (s *ShardedWriter) WriteTensor(name string, data []byte) error {
	for s.cur < len(s.shards)-1 && s.shards[s.cur].cur >= len(s.shards[s.cur].tensors) {
		if len(data) == 0 && s.shards[s.cur].WriteTensor(name, data) == nil {
			return nil // a zero-size tensor at the end of a full shard
		}
		s.cur++
	}
	if s.cur >= len(s.shards) {
		return fmt.Errorf("safetensors: tensor %q: every tensor already written", name)
	}
	return s.shards[s.cur].WriteTensor(name, data)
}

// WriteSharded writes tensors into dir as transformers does: one model.safetensors when they fit
// in maxSize bytes (or maxSize <= 0), otherwise model-0000i-of-0000n.safetensors shards plus
// model.safetensors.index.json. Every shard carries metadata. fill streams the data in order.
// All files are written to temporary names and renamed only when everything succeeded; on error
// none is left behind. It returns the names of the files written.
func WriteSharded(dir string, metadata map[string]string, tensors []TensorInfo, maxSize int64, fill func(*ShardedWriter) error) ([]string, error) {
	counts, err := PlanShards(tensors, maxSize)
	if err != nil {
		return nil, err
	}
	var (
		files   []*atomicfile.File
		names   []string
		sw      ShardedWriter
		weights = make(map[string]string, len(tensors))
		total   int64
	)
	defer func() {
		for _, f := range files {
			f.Abort()
		}
	}()
	start := 0
	for i, n := range counts {
		name := SingleFile
		if len(counts) > 1 {
			name = ShardName(i+1, len(counts))
		}
		path := filepath.Join(dir, name)
		af, err := atomicfile.Create(path)
		if err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
		files = append(files, af)
		names = append(names, name)
		w, err := NewWriter(af, metadata, tensors[start:start+n])
		if err != nil {
			return nil, fmt.Errorf("%w (writing %s)", err, path)
		}
		for _, t := range w.Tensors() {
			weights[t.Name] = name
			total += t.Size()
		}
		sw.shards = append(sw.shards, w)
		start += n
	}
	if fill != nil {
		if err := fill(&sw); err != nil {
			return nil, err
		}
	}
	for i, w := range sw.shards {
		if err := w.Close(); err != nil {
			return nil, fmt.Errorf("%w (writing %s)", err, filepath.Join(dir, names[i]))
		}
	}
	var idx *atomicfile.File
	if len(counts) > 1 {
		idxPath := filepath.Join(dir, IndexFile)
		idx, err = atomicfile.Create(idxPath)
		if err != nil {
			return nil, fmt.Errorf("safetensors: %w", err)
		}
		files = append(files, idx)
		if _, err := idx.Write(encodeIndex(total, weights)); err != nil {
			return nil, fmt.Errorf("safetensors: writing %s: %w", idxPath, err)
		}
		names = append(names, IndexFile)
	}
	// Publish: commit every file; if one fails, remove those already renamed.
	for i, f := range files {
		if err := f.Commit(); err != nil {
			for _, done := range files[:i] {
				os.Remove(done.Name())
			}
			return nil, fmt.Errorf("safetensors: %w", err)
		}
	}
	return names, nil
}

// encodeIndex renders the index as transformers does: json.dumps(indent=2, sort_keys=True),
// a trailing newline.
func encodeIndex(total int64, weights map[string]string) []byte {
	keys := make([]string, 0, len(weights))
	for k := range weights {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	b := []byte("{\n  \"metadata\": {\n    \"total_size\": ")
	b = strconv.AppendInt(b, total, 10)
	b = append(b, "\n  },\n  \"weight_map\": {\n"...)
	for i, k := range keys {
		b = append(b, "    "...)
		b = appendJSONString(b, k)
		b = append(b, ": "...)
		b = appendJSONString(b, weights[k])
		if i < len(keys)-1 {
			b = append(b, ',')
		}
		b = append(b, '\n')
	}
	return append(b, "  }\n}\n"...)
}
