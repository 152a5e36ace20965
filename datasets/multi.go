package datasets

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// shardReader reads several files one after the other as one dataset.
type shardReader struct {
	files []string
	opts  Options
	i     int    // index of the open shard
	cur   Reader // nil after the last shard
	cols  []Column
	fmt   Format
	err   error
}

// openShards opens the first shard (to learn the schema and check the options) and reads
// the others in turn.
func openShards(files []string, opts Options) (Reader, error) {
	if len(files) == 0 {
		return nil, fmt.Errorf("datasets: split has no data files: %w", ErrEmpty)
	}
	opts.Format = FormatAuto
	first, err := openShard(files[0], opts)
	if err != nil {
		return nil, err
	}
	if len(files) == 1 {
		return first, nil
	}
	return &shardReader{files: files, opts: opts, cur: first, cols: first.Columns(), fmt: first.Format()}, nil
}

func openShard(path string, opts Options) (Reader, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	if st.IsDir() {
		return nil, fmt.Errorf("datasets: %s: data file is a folder", path)
	}
	return openFile(path, st.Size(), opts)
}

func (r *shardReader) Columns() []Column {
	if r.cur != nil {
		if c := r.cur.Columns(); len(c) > 0 {
			return c
		}
	}
	return r.cols
}

func (r *shardReader) Format() Format {
	if r.cur != nil {
		return r.cur.Format()
	}
	return r.fmt
}

func (r *shardReader) Next() (*Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	for r.cur != nil {
		rec, err := r.cur.Next()
		if err == nil {
			return rec, nil
		}
		if !errors.Is(err, io.EOF) {
			r.err = err
			return nil, err
		}
		if err := r.cur.Close(); err != nil {
			r.err = fmt.Errorf("datasets: %s: %w", r.files[r.i], err)
			return nil, r.err
		}
		r.cur = nil
		r.i++
		if r.i < len(r.files) {
			next, err := openShard(r.files[r.i], r.opts)
			if err != nil {
				r.err = err
				return nil, err
			}
			r.cur = next
		}
	}
	return nil, io.EOF
}

func (r *shardReader) Close() error {
	r.err = ErrClosed
	if r.cur != nil {
		err := r.cur.Close()
		r.cur = nil
		return err
	}
	return nil
}
