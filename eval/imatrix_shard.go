package eval

import (
	"errors"
	"fmt"
	"os"

	"github.com/mcompress/mcompress/internal/atomicfile"
	"github.com/mcompress/mcompress/internal/shard"
	"github.com/mcompress/mcompress/quantize"
	"github.com/mcompress/mcompress/runtime/calibrate"
)

// ImatrixStateSuffix is appended to a shard's imatrix file name for the file that holds its
// exact sums (calibrate.ColumnSquares.WriteState): the imatrix file rounds them to float32,
// which would make merged shards differ from one run in the last bit.
const ImatrixStateSuffix = ".sums"

// WriteShard writes the statistics of shard s as an imatrix file at path that llama-imatrix
// --in-file and MergeImatrix both read, and their exact sums beside it (path +
// ImatrixStateSuffix). Only shard 0 names the datasets, so that merging the shards (which
// appends every file's datasets, as llama-imatrix does) names them once, as one run does.
func (c *ImatrixCollector) WriteShard(path string, datasets []string, s shard.Shard) error {
	if s.Index > 0 {
		datasets = nil
	}
	if err := c.WriteGGUF(path, datasets); err != nil {
		return err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return writeImatrixState(path+ImatrixStateSuffix, &c.cols)
}

// writeImatrixState writes cols' exact state to path atomically.
func writeImatrixState(path string, cols *calibrate.ColumnSquares) error {
	f, err := atomicfile.Create(path)
	if err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	defer f.Abort()
	if err := cols.WriteState(f); err != nil {
		return fmt.Errorf("eval: %s: %w", path, err)
	}
	if err := f.Commit(); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	return nil
}

// MergeImatrix merges imatrix files in the given order as llama-imatrix --in-file does (sums
// and counts added, chunk counts added, datasets appended) and returns the result. When every
// input has its exact sums beside it (WriteShard), the sums are merged exactly and the result
// equals, bit for bit, one run over all the shards' chunks (exact is then true); otherwise the
// files' float32 sums are added, as llama-imatrix would. A missing, damaged or mismatched
// input is an error naming the file.
func MergeImatrix(inputs []string) (stats *quantize.ImatrixStats, state *calibrate.ColumnSquares, err error) {
	if len(inputs) == 0 {
		return nil, nil, bad(errors.New("eval: merge imatrix: no input files"))
	}
	merged := &quantize.ImatrixStats{}
	state = &calibrate.ColumnSquares{}
	for _, in := range inputs {
		s, err := quantize.ReadImatrixStats(in)
		if err != nil {
			return nil, nil, adopt(fmt.Errorf("eval: merge imatrix: %w", err))
		}
		if merged.ChunkSize != 0 && s.ChunkSize != 0 && s.ChunkSize != merged.ChunkSize {
			return nil, nil, bad(fmt.Errorf("eval: merge imatrix: %s has chunks of %d tokens, the files before it %d", in, s.ChunkSize, merged.ChunkSize))
		}
		if err := merged.Merge(s); err != nil {
			return nil, nil, bad(fmt.Errorf("eval: merge imatrix: %s: %w", in, err))
		}
		if state != nil {
			state, err = mergeState(state, in, s)
			if err != nil {
				return nil, nil, err
			}
		}
	}
	if state != nil {
		exact := state.Stats()
		for name, e := range exact.Entries {
			merged.Entries[name] = e
		}
	}
	return merged, state, nil
}

// mergeState adds the exact sums beside the imatrix file in to state, or returns nil when the
// file has none. s is the file's own statistics, which the sums must match.
func mergeState(state *calibrate.ColumnSquares, in string, s *quantize.ImatrixStats) (*calibrate.ColumnSquares, error) {
	f, err := os.Open(in + ImatrixStateSuffix)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("eval: merge imatrix: %w", err)
	}
	defer f.Close()
	part, err := calibrate.ReadColumnState(f)
	if err != nil {
		return nil, bad(fmt.Errorf("eval: merge imatrix: %s: %w", in+ImatrixStateSuffix, err))
	}
	ps := part.Stats()
	for name, e := range s.Entries {
		p, ok := ps.Entries[name]
		if !ok || len(p.Sums) != len(e.Sums) || len(e.Counts) != 1 || p.Counts[0] != e.Counts[0] {
			return nil, bad(fmt.Errorf("eval: merge imatrix: %s does not hold the sums of %s (entry %q differs): was one of them replaced?", in+ImatrixStateSuffix, in, name))
		}
	}
	if len(ps.Entries) != len(s.Entries) {
		return nil, bad(fmt.Errorf("eval: merge imatrix: %s has %d entries, %s %d", in+ImatrixStateSuffix, len(ps.Entries), in, len(s.Entries)))
	}
	if err := state.Merge(part); err != nil {
		return nil, bad(fmt.Errorf("eval: merge imatrix: %s: %w", in, err))
	}
	return state, nil
}

// WriteMergedImatrix writes what MergeImatrix returned to path, and the exact sums beside it
// when the merge was exact, so that merged files can be merged again.
func WriteMergedImatrix(path string, stats *quantize.ImatrixStats, state *calibrate.ColumnSquares) error {
	if err := stats.WriteGGUF(path); err != nil {
		return fmt.Errorf("eval: %w", err)
	}
	if state == nil {
		return nil
	}
	return writeImatrixState(path+ImatrixStateSuffix, state)
}
