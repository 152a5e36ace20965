package datasets

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"

	"github.com/apache/arrow-go/v18/arrow"
	"github.com/apache/arrow-go/v18/arrow/array"
)

// batchSource yields the Arrow record batches of one columnar file in order.
type batchSource interface {
	// next returns the next batch (owned by the caller, who releases it), where names the
	// batch for error messages ("row group 3"); io.EOF at the end. It must not panic.
	next() (batch arrow.RecordBatch, where string, err error)
	close() error
}

// columnarReader turns the batches of a batchSource into records.
type columnarReader struct {
	path   string
	format Format
	src    batchSource
	sh     *shaper
	cols   []Column // selected columns, in file order

	cur   arrow.RecordBatch
	where string
	i     int
	row   int64
	err   error
}

func (r *columnarReader) Columns() []Column { return r.cols }
func (r *columnarReader) Format() Format    { return r.format }

func (r *columnarReader) Close() error {
	if r.err == ErrClosed {
		return nil
	}
	r.err = ErrClosed
	if r.cur != nil {
		r.cur.Release()
		r.cur = nil
	}
	return r.src.close()
}

func (r *columnarReader) Next() (*Record, error) {
	if r.err != nil {
		return nil, r.err
	}
	for r.cur == nil || r.i >= int(r.cur.NumRows()) {
		if r.cur != nil {
			r.cur.Release()
			r.cur = nil
		}
		b, where, err := r.src.next()
		if err != nil {
			r.err = err
			return nil, err
		}
		if err := validateBatch(b); err != nil {
			b.Release()
			r.err = fmt.Errorf("datasets: %s: %s: %w: %v", r.path, where, ErrCorrupt, err)
			return nil, r.err
		}
		r.cur, r.where, r.i = b, where, 0
	}
	rec, err := r.convert()
	if err != nil {
		r.err = err
		return nil, err
	}
	r.i++
	r.row++
	if err := r.sh.finish(rec); err != nil {
		r.err = err
		return nil, err
	}
	return rec, nil
}

// convert builds the record for row r.i of the current batch.
func (r *columnarReader) convert() (rec *Record, err error) {
	defer func() {
		if p := recover(); p != nil {
			rec, err = nil, recovered(fmt.Sprintf("%s: %s: row %d", r.path, r.where, r.row), p)
		}
	}()
	sc := r.cur.Schema()
	fields := make(map[string]any, r.cur.NumCols())
	for c := 0; c < int(r.cur.NumCols()); c++ {
		name := sc.Field(c).Name
		v, err := arrowValue(r.cur.Column(c), r.i, 0)
		if err != nil {
			return nil, fmt.Errorf("datasets: %s: %s: row %d: column %q: %w", r.path, r.where, r.row, name, err)
		}
		fields[name] = v
	}
	return &Record{Fields: fields, Source: r.path, Row: r.row}, nil
}

// validateBatch checks a batch's offsets and lengths so that corrupt files fail here, with
// an error, rather than inside a conversion.
func validateBatch(b arrow.RecordBatch) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("invalid record batch (%v)", p)
		}
	}()
	for i := 0; i < int(b.NumCols()); i++ {
		if int64(b.Column(i).Len()) != b.NumRows() {
			return fmt.Errorf("column %d has %d rows, batch has %d", i, b.Column(i).Len(), b.NumRows())
		}
	}
	return array.ValidateRecordFull(b)
}

// maxNesting bounds the recursion of arrowValue; real schemas nest a few levels.
const maxNesting = 64

var errTooDeep = errors.New("values nested more than 64 levels deep")

// arrowValue converts element i of arr into the plain Go value documented on Record.
// Strings and bytes are copied so that they outlive the batch.
func arrowValue(arr arrow.Array, i, depth int) (any, error) {
	if depth > maxNesting {
		return nil, errTooDeep
	}
	if arr.IsNull(i) {
		return nil, nil
	}
	switch a := arr.(type) {
	case *array.Null:
		return nil, nil
	case *array.Boolean:
		return a.Value(i), nil
	case *array.Int8:
		return int64(a.Value(i)), nil
	case *array.Int16:
		return int64(a.Value(i)), nil
	case *array.Int32:
		return int64(a.Value(i)), nil
	case *array.Int64:
		return a.Value(i), nil
	case *array.Uint8:
		return int64(a.Value(i)), nil
	case *array.Uint16:
		return int64(a.Value(i)), nil
	case *array.Uint32:
		return int64(a.Value(i)), nil
	case *array.Uint64:
		if v := a.Value(i); v <= math.MaxInt64 {
			return int64(v), nil
		} else {
			return float64(v), nil
		}
	case *array.Float16:
		return float64(a.Value(i).Float32()), nil
	case *array.Float32:
		return float64(a.Value(i)), nil
	case *array.Float64:
		return a.Value(i), nil
	case *array.String:
		return strings.Clone(a.Value(i)), nil
	case *array.LargeString:
		return strings.Clone(a.Value(i)), nil
	case *array.StringView:
		return strings.Clone(a.Value(i)), nil
	case *array.Binary:
		return bytes.Clone(a.Value(i)), nil
	case *array.LargeBinary:
		return bytes.Clone(a.Value(i)), nil
	case *array.BinaryView:
		return bytes.Clone(a.Value(i)), nil
	case *array.FixedSizeBinary:
		return bytes.Clone(a.Value(i)), nil
	case *array.Struct:
		st := a.DataType().(*arrow.StructType)
		m := make(map[string]any, a.NumField())
		for f := 0; f < a.NumField(); f++ {
			v, err := arrowValue(a.Field(f), i, depth+1)
			if err != nil {
				return nil, err
			}
			m[st.Field(f).Name] = v
		}
		return m, nil
	case *array.Dictionary:
		return arrowValue(a.Dictionary(), a.GetValueIndex(i), depth+1)
	case array.ListLike:
		start, end := a.ValueOffsets(i)
		child := a.ListValues()
		if start < 0 || end < start || end > int64(child.Len()) {
			return nil, fmt.Errorf("%w: list offsets [%d, %d) outside child of %d values", ErrCorrupt, start, end, child.Len())
		}
		out := make([]any, 0, end-start)
		for j := start; j < end; j++ {
			v, err := arrowValue(child, int(j), depth+1)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	}
	// Dates, times, timestamps, decimals, intervals…: Arrow's own rendering.
	return arr.ValueStr(i), nil
}

// arrowColumns describes the top-level fields of an Arrow schema.
func arrowColumns(sc *arrow.Schema) []Column {
	cols := make([]Column, sc.NumFields())
	for i, f := range sc.Fields() {
		cols[i] = Column{Name: f.Name, Type: typeString(f.Type)}
	}
	return cols
}

// typeString renders an Arrow type compactly: "utf8", "list<struct<role: utf8, content: utf8>>".
func typeString(t arrow.DataType) string {
	switch x := t.(type) {
	case *arrow.ListType:
		return "list<" + typeString(x.Elem()) + ">"
	case *arrow.LargeListType:
		return "large_list<" + typeString(x.Elem()) + ">"
	case *arrow.FixedSizeListType:
		return fmt.Sprintf("fixed_size_list<%s>[%d]", typeString(x.Elem()), x.Len())
	case *arrow.StructType:
		parts := make([]string, x.NumFields())
		for i, f := range x.Fields() {
			parts[i] = f.Name + ": " + typeString(f.Type)
		}
		return "struct<" + strings.Join(parts, ", ") + ">"
	case *arrow.DictionaryType:
		return typeString(x.ValueType)
	case *arrow.MapType:
		return "map<" + typeString(x.KeyType()) + ", " + typeString(x.ItemType()) + ">"
	}
	return t.String()
}
