package datasets

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/memory"
	"github.com/apache/arrow-go/v18/parquet"
	"github.com/apache/arrow-go/v18/parquet/file"
	"github.com/apache/arrow-go/v18/parquet/pqarrow"
)

// defaultBatchSize is the number of rows decoded at a time from a Parquet row group.
const defaultBatchSize = 1024

// parquetFile is an open Parquet file with its Arrow view.
type parquetFile struct {
	path string
	size int64
	pf   *file.Reader
	fr   *pqarrow.FileReader
}

// openParquetFile opens path (memory-mapped) and reads its footer. It never panics.
func openParquetFile(path string, size int64, batch int) (pq *parquetFile, err error) {
	defer func() {
		if p := recover(); p != nil {
			pq, err = nil, recovered(path+": footer", p)
		}
	}()
	if err := checkParquetFooter(path, size); err != nil {
		return nil, fmt.Errorf("datasets: %s: footer: %w: %w", path, ErrCorrupt, err)
	}
	props := parquet.NewReaderProperties(memory.DefaultAllocator)
	props.BufferedStreamEnabled = true
	props.MaxCompressedPageSize = min(parquet.DefaultMaxCompressedPageSize, size)
	pf, err := file.OpenParquetFile(path, true, file.WithReadProps(props))
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w: %w", path, ErrCorrupt, err)
	}
	if batch <= 0 {
		batch = defaultBatchSize
	}
	// No page decompresses to more than its column chunk declares in the footer: bound the
	// allocation a corrupt page header can ask for by the largest chunk (plus slack).
	var largest int64
	md := pf.MetaData()
	for i := 0; i < md.NumRowGroups(); i++ {
		rg := md.RowGroup(i)
		for c := 0; c < rg.NumColumns(); c++ {
			if cc, err := rg.ColumnChunk(c); err == nil {
				largest = max(largest, cc.TotalUncompressedSize())
			}
		}
	}
	props.MaxUncompressedPageSize = min(parquet.DefaultMaxUncompressedPageSize, largest+1<<20)
	fr, err := pqarrow.NewFileReader(pf, pqarrow.ArrowReadProperties{BatchSize: int64(batch)}, memory.DefaultAllocator)
	if err != nil {
		pf.Close()
		return nil, fmt.Errorf("datasets: %s: schema: %w: %w", path, ErrCorrupt, err)
	}
	return &parquetFile{path: path, size: size, pf: pf, fr: fr}, nil
}

// schema returns the file's Arrow schema. It never panics.
func (p *parquetFile) schema() (sc *arrow.Schema, err error) {
	defer func() {
		if r := recover(); r != nil {
			sc, err = nil, recovered(p.path+": schema", r)
		}
	}()
	sc, err = p.fr.Schema()
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: schema: %w: %w", p.path, ErrCorrupt, err)
	}
	if sc.NumFields() != len(p.fr.Manifest.Fields) {
		return nil, fmt.Errorf("datasets: %s: schema has %d fields but its manifest %d: %w",
			p.path, sc.NumFields(), len(p.fr.Manifest.Fields), ErrCorrupt)
	}
	return sc, nil
}

func openParquet(path string, size int64, opts Options) (Reader, error) {
	pq, err := openParquetFile(path, size, opts.BatchSize)
	if err != nil {
		return nil, err
	}
	sc, err := pq.schema()
	if err != nil {
		pq.pf.Close()
		return nil, err
	}
	cols := arrowColumns(sc)
	sh, err := newShaper(path, cols, opts, "column")
	if err != nil {
		pq.pf.Close()
		return nil, err
	}
	var leaves []int
	var selected []Column
	for i, f := range pq.fr.Manifest.Fields {
		if !sh.wants(f.Field.Name) {
			continue
		}
		leaves = appendLeaves(leaves, &pq.fr.Manifest.Fields[i])
		if sh.keep == nil || sh.keep[f.Field.Name] {
			selected = append(selected, cols[i])
		}
	}
	if len(leaves) == 0 {
		pq.pf.Close()
		return nil, fmt.Errorf("datasets: %s: no columns selected (available: %s)", path, strings.Join(columnNames(cols), ", "))
	}
	sort.Ints(leaves)
	src := &parquetSource{pq: pq, leaves: leaves, rgs: pq.pf.NumRowGroups()}
	return &columnarReader{path: path, format: FormatParquet, src: src, sh: sh, cols: selected}, nil
}

// appendLeaves adds the Parquet leaf column indices under f.
func appendLeaves(dst []int, f *pqarrow.SchemaField) []int {
	if f.IsLeaf() {
		return append(dst, f.ColIndex)
	}
	for i := range f.Children {
		dst = appendLeaves(dst, &f.Children[i])
	}
	return dst
}

func columnNames(cols []Column) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// parquetSource reads a Parquet file one row group at a time, in batches.
type parquetSource struct {
	pq     *parquetFile
	leaves []int
	rgs    int // number of row groups

	rg     int // current row group
	rr     pqarrow.RecordReader
	want   int64 // rows the footer declares for the current row group
	got    int64 // rows read from it so far
	active bool
}

func (s *parquetSource) close() error {
	if s.rr != nil {
		s.rr.Release()
		s.rr = nil
	}
	return s.pq.pf.Close()
}

func (s *parquetSource) next() (b arrow.RecordBatch, where string, err error) {
	for {
		if !s.active {
			if s.rg >= s.rgs {
				return nil, "", io.EOF
			}
			if err := s.startRowGroup(); err != nil {
				return nil, "", err
			}
			if !s.active { // an empty row group
				continue
			}
		}
		where = fmt.Sprintf("row group %d", s.rg)
		b, err = s.read()
		if err == io.EOF {
			s.rr.Release()
			s.rr, s.active = nil, false
			if s.got != s.want {
				return nil, "", fmt.Errorf("datasets: %s: %s: %w: read %d rows, footer declares %d",
					s.pq.path, where, ErrCorrupt, s.got, s.want)
			}
			s.rg++
			continue
		}
		if err != nil {
			return nil, "", err
		}
		s.got += b.NumRows()
		if s.got > s.want {
			b.Release()
			return nil, "", fmt.Errorf("datasets: %s: %s: %w: more rows than the %d the footer declares",
				s.pq.path, where, ErrCorrupt, s.want)
		}
		return b, where, nil
	}
}

// startRowGroup prepares the record reader for row group s.rg.
func (s *parquetSource) startRowGroup() (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = recovered(fmt.Sprintf("%s: row group %d", s.pq.path, s.rg), p)
		}
	}()
	s.want = s.pq.pf.MetaData().RowGroup(s.rg).NumRows()
	s.got = 0
	if s.want < 0 {
		return fmt.Errorf("datasets: %s: row group %d: %w: negative row count %d", s.pq.path, s.rg, ErrCorrupt, s.want)
	}
	if s.want == 0 {
		s.rg++
		return nil
	}
	var bytes int64
	md := s.pq.pf.MetaData().RowGroup(s.rg)
	for c := 0; c < md.NumColumns(); c++ {
		if cc, err := md.ColumnChunk(c); err == nil {
			bytes += max(cc.TotalUncompressedSize(), 0)
		}
	}
	if tooManyRows(s.want, bytes) {
		return fmt.Errorf("datasets: %s: row group %d: %w: declares %d rows in %d bytes of column data",
			s.pq.path, s.rg, ErrCorrupt, s.want, bytes)
	}
	if err := s.preflight(); err != nil {
		return err
	}
	rr, err := s.pq.fr.GetRecordReader(context.Background(), s.leaves, []int{s.rg})
	if err != nil {
		return fmt.Errorf("datasets: %s: row group %d: %w: %w", s.pq.path, s.rg, ErrCorrupt, err)
	}
	s.rr, s.active = rr, true
	return nil
}

// preflight checks the column chunks of row group s.rg and opens (and closes) their page
// readers here, on this goroutine. pqarrow sets up the readers of struct children on
// goroutines of its own, where a panic on corrupt metadata could not be recovered; doing the
// same work first, under the caller's recover, turns such a panic into an error.
func (s *parquetSource) preflight() error {
	md := s.pq.pf.MetaData().RowGroup(s.rg)
	size := s.pq.size
	rgr := s.pq.pf.RowGroup(s.rg)
	for _, leaf := range s.leaves {
		cc, err := md.ColumnChunk(leaf)
		if err != nil {
			return fmt.Errorf("datasets: %s: row group %d: column %d: %w: %w", s.pq.path, s.rg, leaf, ErrCorrupt, err)
		}
		start, n := cc.DataPageOffset(), cc.TotalCompressedSize()
		if cc.HasDictionaryPage() && cc.DictionaryPageOffset() > 0 && cc.DictionaryPageOffset() < start {
			start = cc.DictionaryPageOffset()
		}
		if start < 0 || n < 0 || start > size || n > size-start {
			return fmt.Errorf("datasets: %s: row group %d: column %q: %w: chunk at offset %d with %d bytes lies outside the file (%d bytes)",
				s.pq.path, s.rg, cc.PathInSchema().String(), ErrCorrupt, start, n, size)
		}
		pr, err := rgr.GetColumnPageReader(leaf)
		if err != nil {
			return fmt.Errorf("datasets: %s: row group %d: column %q: %w: %w", s.pq.path, s.rg, cc.PathInSchema().String(), ErrCorrupt, err)
		}
		pr.Close()
	}
	return nil
}

// read returns the next batch of the current row group, io.EOF after its last.
func (s *parquetSource) read() (b arrow.RecordBatch, err error) {
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, recovered(fmt.Sprintf("%s: row group %d", s.pq.path, s.rg), p)
		}
	}()
	if !s.rr.Next() {
		if err := s.rr.Err(); err != nil {
			return nil, fmt.Errorf("datasets: %s: row group %d: %w: %w", s.pq.path, s.rg, ErrCorrupt, err)
		}
		return nil, io.EOF
	}
	b = s.rr.RecordBatch()
	b.Retain()
	return b, nil
}
