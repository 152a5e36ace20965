package datasets

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// arrowMagic starts (and, without its padding, ends) an Arrow IPC file.
var arrowMagic = []byte("ARROW1")

// openArrow opens an Arrow IPC file or stream; which one is decided from the bytes, so a
// stream named .arrow (as Hugging Face save_to_disk writes) is read as a stream.
func openArrow(path string, size int64, opts Options) (Reader, error) {
	src, sc, format, err := openArrowSource(path, size)
	if err != nil {
		return nil, err
	}
	cols := arrowColumns(sc)
	sh, err := newShaper(path, cols, opts, "column")
	if err != nil {
		src.close()
		return nil, err
	}
	var idx []int
	for i, c := range cols {
		if sh.wants(c.Name) {
			idx = append(idx, i)
		}
	}
	src.project(idx)
	return &columnarReader{path: path, format: format, src: src, sh: sh, cols: sh.selectColumns(cols)}, nil
}

// arrowSource is a batchSource over an IPC file or stream that keeps only some columns.
type arrowSource interface {
	batchSource
	// project keeps only the columns with these indices (in order) in the batches.
	project(idx []int)
}

// openArrowSource opens path as an IPC file (ARROW1 magic) or stream and reads its schema.
func openArrowSource(path string, size int64) (arrowSource, *arrow.Schema, Format, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, "", fmt.Errorf("datasets: %w", err)
	}
	head := make([]byte, len(arrowMagic))
	n, _ := io.ReadFull(f, head)
	f.Close()
	if n == len(arrowMagic) && bytes.Equal(head, arrowMagic) {
		s, err := openIPCFile(path, size)
		if err != nil {
			return nil, nil, "", err
		}
		return s, s.schema, FormatArrowFile, nil
	}
	s, err := openIPCStream(path, size)
	if err != nil {
		return nil, nil, "", err
	}
	return s, s.schema, FormatArrowStream, nil
}

// ipcLimits bounds the metadata and body sizes the IPC decoder will allocate by the file size.
func ipcLimits(size int64) []ipc.Option {
	return []ipc.Option{
		ipc.WithAllocator(memory.DefaultAllocator),
		ipc.WithMetadataSizeLimit(size),
		ipc.WithBodySizeLimit(size),
		ipc.WithEnsureNativeEndian(true),
	}
}

// projection selects columns from a batch.
type projection struct{ idx []int }

func (p *projection) project(idx []int) { p.idx = idx }

// apply returns a batch with only the projected columns, releasing b.
func (p *projection) apply(b arrow.RecordBatch) (arrow.RecordBatch, error) {
	if p.idx == nil || len(p.idx) == int(b.NumCols()) {
		return b, nil
	}
	defer b.Release()
	fields := make([]arrow.Field, len(p.idx))
	cols := make([]arrow.Array, len(p.idx))
	for i, c := range p.idx {
		if c >= int(b.NumCols()) {
			return nil, fmt.Errorf("batch has %d columns, schema more", b.NumCols())
		}
		fields[i] = b.Schema().Field(c)
		cols[i] = b.Column(c)
	}
	md := b.Schema().Metadata()
	return array.NewRecordBatch(arrow.NewSchema(fields, &md), cols, b.NumRows()), nil
}

// ipcFile reads the record batches of a memory-mapped Arrow IPC file by index.
type ipcFile struct {
	projection
	path   string
	data   []byte
	unmap  func() error
	fr     *ipc.FileReader
	schema *arrow.Schema
	i, n   int
}

func openIPCFile(path string, size int64) (s *ipcFile, err error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, recovered(path+": footer", p)
		}
		if err != nil {
			unmap()
		}
	}()
	dicts, err := checkIPCFile(data)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w: %w", path, ErrCorrupt, err)
	}
	var fr *ipc.FileReader
	if dicts {
		// arrow-go's mapped reader leaves its dictionary memo nil and panics ("assignment to
		// entry in nil map") on the first dictionary-encoded field; the ReaderAt-based reader
		// sets it up. It copies each block out of the map instead of pointing into it.
		fr, err = ipc.NewFileReader(bytes.NewReader(data), ipcLimits(size)...)
	} else {
		fr, err = ipc.NewMappedFileReader(data, ipcLimits(size)...)
	}
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w: %w", path, ErrCorrupt, err)
	}
	return &ipcFile{path: path, data: data, unmap: unmap, fr: fr, schema: fr.Schema(), n: fr.NumRecords()}, nil
}

func (s *ipcFile) next() (b arrow.RecordBatch, where string, err error) {
	if s.i >= s.n {
		return nil, "", io.EOF
	}
	where = fmt.Sprintf("record batch %d", s.i)
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, recovered(s.path+": "+where, p)
		}
	}()
	b, err = s.fr.RecordBatchAt(s.i)
	if err != nil {
		return nil, "", fmt.Errorf("datasets: %s: %s: %w: %w", s.path, where, ErrCorrupt, err)
	}
	s.i++
	if b, err = s.apply(b); err != nil {
		return nil, "", fmt.Errorf("datasets: %s: %s: %w: %w", s.path, where, ErrCorrupt, err)
	}
	return b, where, nil
}

func (s *ipcFile) close() error {
	s.fr.Close()
	return s.unmap()
}

// ipcStream reads the record batches of an Arrow IPC stream in order.
type ipcStream struct {
	projection
	path   string
	f      *os.File
	rr     *ipc.Reader
	schema *arrow.Schema
	i      int
}

func openIPCStream(path string, size int64) (s *ipcStream, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	in := bufio.NewReaderSize(f, 1<<20)
	defer func() {
		if p := recover(); p != nil {
			s, err = nil, recovered(path+": schema", p)
		}
		if err != nil {
			f.Close()
		}
	}()
	rr, err := ipc.NewReaderFromMessageReader(newCheckedMessages(in, size), ipcLimits(size)...)
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w: %w", path, ErrCorrupt, err)
	}
	return &ipcStream{path: path, f: f, rr: rr, schema: rr.Schema()}, nil
}

func (s *ipcStream) next() (b arrow.RecordBatch, where string, err error) {
	where = fmt.Sprintf("record batch %d", s.i)
	defer func() {
		if p := recover(); p != nil {
			b, err = nil, recovered(s.path+": "+where, p)
		}
	}()
	if !s.rr.Next() {
		if err := s.rr.Err(); err != nil {
			return nil, "", fmt.Errorf("datasets: %s: %s: %w: %w", s.path, where, ErrCorrupt, err)
		}
		return nil, "", io.EOF
	}
	b = s.rr.RecordBatch()
	b.Retain()
	s.i++
	if b, err = s.apply(b); err != nil {
		return nil, "", fmt.Errorf("datasets: %s: %s: %w: %w", s.path, where, ErrCorrupt, err)
	}
	return b, where, nil
}

func (s *ipcStream) close() error {
	s.rr.Release()
	return s.f.Close()
}
