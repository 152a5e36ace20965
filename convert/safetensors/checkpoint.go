package safetensors

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// IndexFile is the name of the index of a sharded checkpoint.
const IndexFile = "model.safetensors.index.json"

// maxIndexSize bounds the index file read into memory.
const maxIndexSize = 512 << 20

// Index is the content of model.safetensors.index.json.
type Index struct {
	// Metadata holds the index's "metadata" object (usually {"total_size": N}).
	Metadata map[string]any `json:"metadata"`
	// WeightMap maps each tensor name to the shard file holding it.
	WeightMap map[string]string `json:"weight_map"`
}

// Entry locates one tensor of a checkpoint.
type Entry struct {
	TensorInfo
	// File is the index of the shard in Checkpoint.Files.
	File int
	// Index is the tensor's position in that shard's Tensors.
	Index int
}

// Checkpoint is a set of safetensors files read as one: a single file, or the shards of a
// sharded checkpoint. Tensor names are unique across the set.
type Checkpoint struct {
	// Dir is the folder holding the files.
	Dir string
	// Files are the shards in the order they are read (file names sorted).
	Files []*File
	// Index is the parsed index of a sharded checkpoint, nil when there is none.
	Index *Index

	entries []Entry
	byName  map[string]int
}

// OpenCheckpoint opens the safetensors tensors at path, which is a Hugging Face model folder,
// an index file (model.safetensors.index.json) or a single .safetensors file.
//
// In a folder, the index's weight map decides which shards are read when the index exists;
// otherwise every file named model*.safetensors is read (as llama.cpp's converter does). The
// weight map must list exactly the tensors found in the shards, each in the shard it names.
func OpenCheckpoint(path string) (*Checkpoint, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if !st.IsDir() {
		if strings.HasSuffix(path, ".index.json") {
			return openIndexed(filepath.Dir(path), path)
		}
		c := &Checkpoint{Dir: filepath.Dir(path)}
		if err := c.add(path); err != nil {
			return nil, err
		}
		return c, c.finish()
	}
	idx := filepath.Join(path, IndexFile)
	if _, err := os.Stat(idx); err == nil {
		return openIndexed(path, idx)
	}
	ents, err := os.ReadDir(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var parts []string
	for _, e := range ents {
		if n := e.Name(); strings.HasPrefix(n, "model") && strings.HasSuffix(n, ".safetensors") && !e.IsDir() {
			parts = append(parts, n)
		}
	}
	if len(parts) == 0 {
		return nil, fmt.Errorf("safetensors: %s: no model*.safetensors files and no %s", path, IndexFile)
	}
	sort.Strings(parts)
	c := &Checkpoint{Dir: path}
	for _, p := range parts {
		if err := c.add(filepath.Join(path, p)); err != nil {
			c.Close()
			return nil, err
		}
	}
	return c, c.finish()
}

// ReadIndex reads and validates an index file: a JSON object whose weight_map maps tensor names
// to plain file names in the same folder.
func ReadIndex(path string) (*Index, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	if st.Size() > maxIndexSize {
		return nil, fmt.Errorf("safetensors: %s: index is %d bytes, over the %d-byte limit", path, st.Size(), maxIndexSize)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	var idx Index
	if err := json.Unmarshal(b, &idx); err != nil {
		return nil, fmt.Errorf("safetensors: %s: %w: index JSON: %v", path, ErrFormat, err)
	}
	if idx.WeightMap == nil {
		return nil, fmt.Errorf("safetensors: %s: %w: no weight_map object", path, ErrFormat)
	}
	for name, file := range idx.WeightMap {
		if file == "" || file != filepath.Base(file) || file == "." || file == ".." || strings.ContainsAny(file, `/\`) {
			return nil, fmt.Errorf("safetensors: %s: %w: tensor %q maps to %q, which is not a file name in the same folder", path, ErrFormat, name, file)
		}
	}
	return &idx, nil
}

func openIndexed(dir, idxPath string) (*Checkpoint, error) {
	idx, err := ReadIndex(idxPath)
	if err != nil {
		return nil, err
	}
	set := make(map[string]bool)
	for _, f := range idx.WeightMap {
		set[f] = true
	}
	parts := make([]string, 0, len(set))
	for f := range set {
		parts = append(parts, f)
	}
	sort.Strings(parts)
	c := &Checkpoint{Dir: dir, Index: idx}
	for _, p := range parts {
		if err := c.add(filepath.Join(dir, p)); err != nil {
			c.Close()
			return nil, fmt.Errorf("%w (shard listed in %s)", err, idxPath)
		}
	}
	if err := c.finish(); err != nil {
		c.Close()
		return nil, err
	}
	// The weight map must match the shards exactly.
	var missing []string
	for name, file := range idx.WeightMap {
		i, ok := c.byName[name]
		if !ok {
			missing = append(missing, name)
			continue
		}
		if got := filepath.Base(c.Files[c.entries[i].File].Path); got != file {
			c.Close()
			return nil, fmt.Errorf("safetensors: %s: %w: tensor %q is in %s but the weight map says %s", idxPath, ErrFormat, name, got, file)
		}
	}
	if len(missing) > 0 {
		sort.Strings(missing)
		c.Close()
		return nil, fmt.Errorf("safetensors: %s: %w: %d tensors of the weight map are in no shard (first: %q)", idxPath, ErrFormat, len(missing), missing[0])
	}
	if len(c.entries) != len(idx.WeightMap) {
		for _, e := range c.entries {
			if _, ok := idx.WeightMap[e.Name]; !ok {
				c.Close()
				return nil, fmt.Errorf("safetensors: %s: %w: tensor %q of %s is not in the weight map", idxPath, ErrFormat, e.Name, c.Files[e.File].Path)
			}
		}
	}
	return c, nil
}

func (c *Checkpoint) add(path string) error {
	f, err := Open(path)
	if err != nil {
		return err
	}
	c.Files = append(c.Files, f)
	return nil
}

// finish lists the tensors shard by shard, names sorted within each shard, and rejects names
// found in two shards.
func (c *Checkpoint) finish() error {
	c.byName = make(map[string]int)
	for fi, f := range c.Files {
		for _, name := range f.Names() {
			ti, _ := f.TensorIndex(name)
			if prev, dup := c.byName[name]; dup {
				return fmt.Errorf("safetensors: tensor %q is in both %s and %s", name, c.Files[c.entries[prev].File].Path, f.Path)
			}
			c.byName[name] = len(c.entries)
			c.entries = append(c.entries, Entry{TensorInfo: f.Tensors[ti], File: fi, Index: ti})
		}
	}
	return nil
}

// Entries returns every tensor in reading order: shards by file name, then tensor names in byte
// order within each shard (the order of llama.cpp's converter).
func (c *Checkpoint) Entries() []Entry { return c.entries }

// Lookup returns the tensor named name.
func (c *Checkpoint) Lookup(name string) (Entry, bool) {
	i, ok := c.byName[name]
	if !ok {
		return Entry{}, false
	}
	return c.entries[i], true
}

// Data returns the raw bytes of the tensor e, valid until Close.
func (c *Checkpoint) Data(e Entry) []byte { return c.Files[e.File].TensorData(e.Index) }

// Release drops the resident pages of tensor e (see File.Release).
func (c *Checkpoint) Release(e Entry) { c.Files[e.File].Release(e.Index) }

// ReleaseRange drops the resident pages of bytes [off, end) of tensor e (see File.ReleaseRange).
func (c *Checkpoint) ReleaseRange(e Entry, off, end int64) {
	c.Files[e.File].ReleaseRange(e.Index, off, end)
}

// AdviseSequential announces a front-to-back read of every file.
func (c *Checkpoint) AdviseSequential() {
	for _, f := range c.Files {
		f.AdviseSequential()
	}
}

// Size returns the total size of the files in bytes.
func (c *Checkpoint) Size() int64 {
	var n int64
	for _, f := range c.Files {
		n += f.Size()
	}
	return n
}

// Metadata returns the "__metadata__" of the first shard that has one, or nil.
func (c *Checkpoint) Metadata() map[string]string {
	for _, f := range c.Files {
		if f.Metadata != nil {
			return f.Metadata
		}
	}
	return nil
}

// Close unmaps every file.
func (c *Checkpoint) Close() error {
	var first error
	for _, f := range c.Files {
		if err := f.Close(); err != nil && first == nil {
			first = err
		}
	}
	return first
}
