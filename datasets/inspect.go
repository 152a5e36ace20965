package datasets

import (
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// Info summarizes a dataset for `mcompress datasets inspect`.
type Info struct {
	// Path is the inspected file or folder.
	Path string `json:"path"`
	// Format is the format of the (first) data file.
	Format Format `json:"format"`
	// Layout is how a folder maps to splits; nil for a single file.
	Layout *Layout `json:"layout,omitempty"`
	// Split is the split described by Rows, Shards and Sample (folders only).
	Split string `json:"split,omitempty"`
	// Splits gives the row count of every split of a folder.
	Splits []SplitInfo `json:"splits,omitempty"`
	// Columns is the full schema (not narrowed by Options.Columns).
	Columns []Column `json:"columns"`
	// TextColumn is the column rendered into Record.Text ("" when none).
	TextColumn string `json:"text_column,omitempty"`
	// Rows is the number of records (of Split, for a folder).
	Rows int64 `json:"rows"`
	// RowsFromMetadata is true when every row count came from file metadata (the Parquet
	// footer) rather than from reading the records.
	RowsFromMetadata bool `json:"rows_from_metadata"`
	// Shards describes each data file (of Split, for a folder).
	Shards []ShardInfo `json:"shards"`
	// Sample holds the first records' fields (narrowed by Options.Columns).
	Sample []map[string]any `json:"sample,omitempty"`
}

// SplitInfo is the size of one split of a folder.
type SplitInfo struct {
	Name   string `json:"name"`
	Shards int    `json:"shards"`
	Rows   int64  `json:"rows"`
}

// ShardInfo describes one data file.
type ShardInfo struct {
	Path   string `json:"path"`
	Format Format `json:"format"`
	Bytes  int64  `json:"bytes"`
	Rows   int64  `json:"rows"`
	// RowGroups lists the rows of each Parquet row group.
	RowGroups []int64 `json:"row_groups,omitempty"`
	// Batches lists the rows of each Arrow record batch.
	Batches []int64 `json:"record_batches,omitempty"`
	// Compression lists the Parquet codecs used by the file's column chunks.
	Compression []string `json:"compression,omitempty"`
	// CreatedBy is the Parquet writer's self-description.
	CreatedBy string `json:"created_by,omitempty"`
	// Metadata lists the keys of the file's key-value (Parquet) or schema (Arrow) metadata.
	Metadata []string `json:"metadata_keys,omitempty"`
}

// Inspect describes the dataset at path: format, schema, row counts (from the Parquet footer
// where possible, else by reading), row groups or record batches, shards and splits, and the
// first sample records (none when sample <= 0). Every error it returns wraps ErrBadInput.
func Inspect(path string, opts Options, sample int) (*Info, error) {
	info, err := inspect(path, opts, sample)
	if err != nil {
		return nil, bad(err)
	}
	return info, nil
}

// inspect is Inspect without the marking of its errors.
func inspect(path string, opts Options, sample int) (*Info, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	info := &Info{Path: path, RowsFromMetadata: true}
	var files []string
	if st.IsDir() {
		lay, err := ResolveFolder(path, opts)
		if err != nil {
			return nil, err
		}
		sp, err := lay.pickSplit(path, opts.Split)
		if err != nil {
			return nil, err
		}
		info.Layout, info.Split, files = lay, sp.Name, sp.Files
		for _, s := range lay.Splits {
			si := SplitInfo{Name: s.Name, Shards: len(s.Files)}
			for _, f := range s.Files {
				sh, err := inspectShard(f, opts)
				if err != nil {
					return nil, err
				}
				si.Rows += sh.Rows
				info.RowsFromMetadata = info.RowsFromMetadata && sh.Format == FormatParquet
				if s.Name == sp.Name {
					info.Shards = append(info.Shards, *sh)
					info.Rows += sh.Rows
				}
			}
			info.Splits = append(info.Splits, si)
		}
	} else {
		sh, err := inspectShard(path, opts)
		if err != nil {
			return nil, err
		}
		files = []string{path}
		info.Shards = []ShardInfo{*sh}
		info.Rows = sh.Rows
		info.RowsFromMetadata = sh.Format == FormatParquet
	}
	info.Format = info.Shards[0].Format

	// The full schema: a reader without column selection, after one record for JSON.
	all := opts
	all.Columns, all.TextColumn = nil, ""
	r, err := openShards(files, all)
	if err != nil {
		return nil, err
	}
	if _, err := r.Next(); err != nil && !errors.Is(err, io.EOF) {
		r.Close()
		return nil, err
	}
	info.Columns = r.Columns()
	r.Close()

	r, err = openShards(files, opts)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	recs, err := ReadAll(r, max(sample, 1)) // JSON knows its text column after one record
	if err != nil {
		return nil, err
	}
	if tc, ok := r.(interface{ textColumn() string }); ok {
		info.TextColumn = tc.textColumn()
	}
	for i, rec := range recs {
		if i < sample {
			info.Sample = append(info.Sample, rec.Fields)
		}
	}
	return info, nil
}

// inspectShard describes one data file.
func inspectShard(path string, opts Options) (*ShardInfo, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	if st.Size() == 0 {
		return nil, fmt.Errorf("datasets: %s: zero-byte file: %w", path, ErrEmpty)
	}
	f := opts.Format
	if f == FormatAuto || f == FormatHF {
		if f, err = SniffFile(path); err != nil {
			return nil, err
		}
	}
	sh := &ShardInfo{Path: path, Format: f, Bytes: st.Size()}
	switch f {
	case FormatParquet:
		return sh, inspectParquet(sh, opts)
	case FormatArrowFile, FormatArrowStream:
		return sh, inspectArrow(sh)
	}
	// Text and JSON: count by reading.
	o := opts
	o.Format = f
	r, err := openFile(path, st.Size(), o)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	sh.Format = r.Format()
	for {
		_, err := r.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		sh.Rows++
	}
	sh.Format = r.Format()
	return sh, nil
}

// inspectParquet fills sh from the Parquet footer.
func inspectParquet(sh *ShardInfo, opts Options) (err error) {
	pq, err := openParquetFile(sh.Path, sh.Bytes, opts.BatchSize)
	if err != nil {
		return err
	}
	defer pq.pf.Close()
	defer func() {
		if p := recover(); p != nil {
			err = recovered(sh.Path+": footer", p)
		}
	}()
	md := pq.pf.MetaData()
	sh.Rows = md.NumRows
	sh.CreatedBy = md.GetCreatedBy()
	codecs := map[string]bool{}
	var sum int64
	for i := 0; i < md.NumRowGroups(); i++ {
		rg := md.RowGroup(i)
		sh.RowGroups = append(sh.RowGroups, rg.NumRows())
		sum += rg.NumRows()
		for c := 0; c < rg.NumColumns(); c++ {
			cc, err := rg.ColumnChunk(c)
			if err != nil {
				return fmt.Errorf("datasets: %s: row group %d: column %d: %w: %w", sh.Path, i, c, ErrCorrupt, err)
			}
			codecs[strings.ToLower(cc.Compression().String())] = true
		}
	}
	if sum != sh.Rows {
		return fmt.Errorf("datasets: %s: %w: row groups hold %d rows, footer declares %d", sh.Path, ErrCorrupt, sum, sh.Rows)
	}
	for c := range codecs {
		sh.Compression = append(sh.Compression, c)
	}
	sort.Strings(sh.Compression)
	for _, kv := range md.KeyValueMetadata() {
		sh.Metadata = append(sh.Metadata, kv.Key)
	}
	return nil
}

// inspectArrow fills sh by reading every record batch of an IPC file or stream.
func inspectArrow(sh *ShardInfo) error {
	src, sc, format, err := openArrowSource(sh.Path, sh.Bytes)
	if err != nil {
		return err
	}
	defer src.close()
	sh.Format = format
	sh.Metadata = sc.Metadata().Keys()
	for {
		b, where, err := src.next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if err := validateBatch(b); err != nil {
			b.Release()
			return fmt.Errorf("datasets: %s: %s: %w: %v", sh.Path, where, ErrCorrupt, err)
		}
		sh.Batches = append(sh.Batches, b.NumRows())
		sh.Rows += b.NumRows()
		b.Release()
	}
}
