package datasets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync/atomic"

	"github.com/apache/arrow-go/v18/arrow/ipc"
	"github.com/apache/arrow-go/v18/arrow/memory"
)

// This file checks Arrow IPC metadata (flatbuffers) before arrow-go decodes it. arrow-go
// recovers from most panics on bad metadata, but a few things it cannot survive: a vector
// length read from a corrupt flatbuffer becomes a make() of billions of elements (a fatal
// out-of-memory, not a panic), a field whose children point back at itself recurses until the
// stack overflows, and a compressed buffer's declared uncompressed size is allocated as is.
// The checks below bound every vector by the bytes that hold it, bound the nesting and the
// number of schema nodes visited, and bound decompressed sizes, so that arrow-go only ever
// sees metadata whose allocations are proportional to the file.

// Limits of the IPC checks.
const (
	maxIPCNesting = 64 // arrow-go's own limit for nested types
	// maxExpansion bounds a compressed IPC buffer's uncompressed size, as a multiple of its
	// compressed size (plus maxExpansionSlack): far above what LZ4 or ZSTD reach on real data.
	maxExpansion      = 1024
	maxExpansionSlack = 1 << 20
	// maxRowsPerByte and maxRowsSlack bound the rows a record batch (or Parquet row group)
	// may declare for the bytes that hold it: rows ≤ 64 × bytes + 1 Mi. Real data spends at
	// least a bit per row somewhere; a batch of only null-typed columns, or a run-length
	// bomb, could otherwise make a 4 KB file yield billions of empty records.
	maxRowsPerByte = 64
	maxRowsSlack   = 1 << 20
)

// tooManyRows reports whether rows is implausible for data held in n bytes.
func tooManyRows(rows, n int64) bool {
	return rows < 0 || rows > maxRowsPerByte*n+maxRowsSlack
}

// Flatbuffer union tags and table slots of the Arrow format (Schema.fbs, Message.fbs, File.fbs).
const (
	headerSchema          = 1
	headerDictionaryBatch = 2
	headerRecordBatch     = 3

	typeUnion = 14
)

var errFlatbuffer = errors.New("invalid IPC metadata")

// fbuf is a read-only view of one flatbuffer with bounds-checked accessors.
type fbuf struct {
	b     []byte
	nodes int // schema nodes visited, against DAG blow-ups
	dicts int // dictionary-encoded fields seen in schemas
}

func (f *fbuf) u32(pos int64) (uint32, error) {
	if pos < 0 || pos+4 > int64(len(f.b)) {
		return 0, fmt.Errorf("%w: offset %d out of range", errFlatbuffer, pos)
	}
	return binary.LittleEndian.Uint32(f.b[pos:]), nil
}

func (f *fbuf) u16(pos int64) (uint16, error) {
	if pos < 0 || pos+2 > int64(len(f.b)) {
		return 0, fmt.Errorf("%w: offset %d out of range", errFlatbuffer, pos)
	}
	return binary.LittleEndian.Uint16(f.b[pos:]), nil
}

// fbTable is a checked table: its position and its vtable.
type fbTable struct {
	pos, vt int64
	vsize   int64
}

// root returns the root table.
func (f *fbuf) root() (fbTable, error) {
	off, err := f.u32(0)
	if err != nil {
		return fbTable{}, err
	}
	return f.table(int64(off))
}

// table checks the table at pos and its vtable.
func (f *fbuf) table(pos int64) (fbTable, error) {
	so, err := f.u32(pos)
	if err != nil {
		return fbTable{}, err
	}
	vt := pos - int64(int32(so))
	vsize, err := f.u16(vt)
	if err != nil {
		return fbTable{}, err
	}
	tsize, err := f.u16(vt + 2)
	if err != nil {
		return fbTable{}, err
	}
	if vsize < 4 || vsize%2 != 0 || vt+int64(vsize) > int64(len(f.b)) || pos+int64(tsize) > int64(len(f.b)) {
		return fbTable{}, fmt.Errorf("%w: bad vtable at %d", errFlatbuffer, vt)
	}
	return fbTable{pos: pos, vt: vt, vsize: int64(vsize)}, nil
}

// field returns the position of slot i of t, or 0 when the slot is absent. size is the
// number of bytes the slot's value needs.
func (f *fbuf) field(t fbTable, i int, size int64) (int64, error) {
	if 4+2*int64(i)+2 > t.vsize {
		return 0, nil
	}
	off, err := f.u16(t.vt + 4 + 2*int64(i))
	if err != nil || off == 0 {
		return 0, err
	}
	p := t.pos + int64(off)
	if p+size > int64(len(f.b)) {
		return 0, fmt.Errorf("%w: field %d out of range", errFlatbuffer, i)
	}
	return p, nil
}

// ref follows the offset stored in slot i of t (a table, vector or string) and returns the
// target position, or 0 when the slot is absent.
func (f *fbuf) ref(t fbTable, i int) (int64, error) {
	p, err := f.field(t, i, 4)
	if err != nil || p == 0 {
		return 0, err
	}
	off, err := f.u32(p)
	if err != nil {
		return 0, err
	}
	target := p + int64(off)
	if target > int64(len(f.b)) {
		return 0, fmt.Errorf("%w: reference out of range", errFlatbuffer)
	}
	return target, nil
}

// vector checks the vector referenced by slot i of t, with elements of elem bytes, and
// returns the position of its first element and its length (0, 0 when absent).
func (f *fbuf) vector(t fbTable, i int, elem int64) (start int64, n int64, err error) {
	v, err := f.ref(t, i)
	if err != nil || v == 0 {
		return 0, 0, err
	}
	l, err := f.u32(v)
	if err != nil {
		return 0, 0, err
	}
	n = int64(l)
	if v+4+n*elem > int64(len(f.b)) {
		return 0, 0, fmt.Errorf("%w: vector of %d elements overruns its %d-byte buffer", errFlatbuffer, n, len(f.b))
	}
	return v + 4, n, nil
}

// tables checks a vector of tables in slot i of t and calls fn on each.
func (f *fbuf) tables(t fbTable, i int, fn func(fbTable) error) error {
	start, n, err := f.vector(t, i, 4)
	if err != nil {
		return err
	}
	for k := int64(0); k < n; k++ {
		p := start + 4*k
		off, err := f.u32(p)
		if err != nil {
			return err
		}
		sub, err := f.table(p + int64(off))
		if err != nil {
			return err
		}
		if fn != nil {
			if err := fn(sub); err != nil {
				return err
			}
		}
	}
	return nil
}

// subtable checks the table referenced by slot i of t; ok is false when absent.
func (f *fbuf) subtable(t fbTable, i int) (fbTable, bool, error) {
	p, err := f.ref(t, i)
	if err != nil || p == 0 {
		return fbTable{}, false, err
	}
	sub, err := f.table(p)
	return sub, err == nil, err
}

// keyValues checks a custom_metadata vector of KeyValue tables.
func (f *fbuf) keyValues(t fbTable, i int) error {
	return f.tables(t, i, func(kv fbTable) error {
		if _, _, err := f.vector(kv, 0, 1); err != nil {
			return err
		}
		_, _, err := f.vector(kv, 1, 1)
		return err
	})
}

// checkSchema checks a Schema table: little-endian, fields (recursively), metadata, features.
func (f *fbuf) checkSchema(s fbTable) error {
	if p, err := f.field(s, 0, 2); err != nil {
		return err
	} else if p != 0 && binary.LittleEndian.Uint16(f.b[p:]) != 0 {
		return fmt.Errorf("%w: big-endian Arrow data is not supported", errFlatbuffer)
	}
	if err := f.tables(s, 1, func(field fbTable) error { return f.checkField(field, 0) }); err != nil {
		return err
	}
	if err := f.keyValues(s, 2); err != nil {
		return err
	}
	_, _, err := f.vector(s, 3, 8)
	return err
}

// checkField checks a Field table and its children.
func (f *fbuf) checkField(t fbTable, depth int) error {
	f.nodes++
	if depth > maxIPCNesting {
		return fmt.Errorf("%w: fields nested more than %d levels", errFlatbuffer, maxIPCNesting)
	}
	if f.nodes > len(f.b) {
		return fmt.Errorf("%w: more schema nodes than bytes (shared or cyclic children)", errFlatbuffer)
	}
	if _, _, err := f.vector(t, 0, 1); err != nil { // name
		return err
	}
	tp, err := f.field(t, 2, 1)
	if err != nil {
		return err
	}
	typ, ok, err := f.subtable(t, 3)
	if err != nil {
		return err
	}
	if ok && tp != 0 && f.b[tp] == typeUnion {
		if _, _, err := f.vector(typ, 1, 4); err != nil { // typeIds
			return err
		}
	}
	if dict, ok, err := f.subtable(t, 4); err != nil {
		return err
	} else if ok {
		f.dicts++
		if _, _, err := f.subtable(dict, 1); err != nil { // indexType
			return err
		}
	}
	if err := f.tables(t, 5, func(c fbTable) error { return f.checkField(c, depth+1) }); err != nil {
		return err
	}
	return f.keyValues(t, 6)
}

// checkRecordBatch checks a RecordBatch table; body is the message body (nil to skip the
// compressed-size checks).
func (f *fbuf) checkRecordBatch(rb fbTable, body []byte) error {
	if lp, err := f.field(rb, 0, 8); err != nil {
		return err
	} else if lp != 0 && body != nil {
		if rows := int64(binary.LittleEndian.Uint64(f.b[lp:])); tooManyRows(rows, int64(len(body))) {
			return fmt.Errorf("%w: batch declares %d rows in a %d-byte body", errFlatbuffer, rows, len(body))
		}
	}
	if _, _, err := f.vector(rb, 1, 16); err != nil { // nodes
		return err
	}
	bstart, nbuf, err := f.vector(rb, 2, 16) // buffers
	if err != nil {
		return err
	}
	vstart, nvar, err := f.vector(rb, 4, 8) // variadicBufferCounts
	if err != nil {
		return err
	}
	for k := int64(0); k < nvar; k++ {
		c := int64(binary.LittleEndian.Uint64(f.b[vstart+8*k:]))
		if c < 0 || c > nbuf {
			return fmt.Errorf("%w: %d variadic buffers, but the batch has %d buffers", errFlatbuffer, c, nbuf)
		}
	}
	comp, compressed, err := f.subtable(rb, 3)
	if err != nil {
		return err
	}
	if !compressed || body == nil {
		return nil
	}
	if _, err := f.field(comp, 0, 1); err != nil {
		return err
	}
	for k := int64(0); k < nbuf; k++ {
		off := int64(binary.LittleEndian.Uint64(f.b[bstart+16*k:]))
		n := int64(binary.LittleEndian.Uint64(f.b[bstart+16*k+8:]))
		if n == 0 {
			continue
		}
		if off < 0 || n < 8 || off > int64(len(body)) || n > int64(len(body))-off {
			return fmt.Errorf("%w: buffer %d (offset %d, %d bytes) outside the %d-byte body", errFlatbuffer, k, off, n, len(body))
		}
		size := int64(binary.LittleEndian.Uint64(body[off:]))
		if size != -1 && (size < 0 || size > maxExpansion*n+maxExpansionSlack) {
			return fmt.Errorf("%w: buffer %d claims %d bytes uncompressed from %d", errFlatbuffer, k, size, n)
		}
	}
	return nil
}

// checkMessage checks a Message flatbuffer (and, for batches, its body) and returns its
// header type and declared body length.
func checkMessage(meta, body []byte) (header byte, bodyLen int64, err error) {
	f := &fbuf{b: meta}
	m, err := f.root()
	if err != nil {
		return 0, 0, err
	}
	hp, err := f.field(m, 1, 1)
	if err != nil {
		return 0, 0, err
	}
	if hp != 0 {
		header = f.b[hp]
	}
	if lp, err := f.field(m, 3, 8); err != nil {
		return 0, 0, err
	} else if lp != 0 {
		bodyLen = int64(binary.LittleEndian.Uint64(f.b[lp:]))
	}
	if err := f.keyValues(m, 4); err != nil {
		return 0, 0, err
	}
	h, ok, err := f.subtable(m, 2)
	if err != nil {
		return 0, 0, err
	}
	if !ok {
		return header, bodyLen, nil
	}
	switch header {
	case headerSchema:
		err = f.checkSchema(h)
	case headerRecordBatch:
		err = f.checkRecordBatch(h, body)
	case headerDictionaryBatch:
		if rb, ok, e := f.subtable(h, 1); e != nil {
			err = e
		} else if ok {
			err = f.checkRecordBatch(rb, body)
		}
	}
	return header, bodyLen, err
}

// checkIPCFile checks the footer of a whole Arrow IPC file and the metadata of every
// dictionary and record batch block it lists, and reports whether the footer's schema has
// dictionary-encoded fields (at any depth).
func checkIPCFile(data []byte) (dictionaries bool, err error) {
	const tail = 4 + 6 // footer length + "ARROW1"
	if len(data) < 8+tail || string(data[len(data)-6:]) != "ARROW1" {
		return false, fmt.Errorf("%w: no ARROW1 magic at the end (truncated?)", errFlatbuffer)
	}
	flen := int64(binary.LittleEndian.Uint32(data[len(data)-tail:]))
	start := int64(len(data)) - tail - flen
	if flen <= 0 || start < 8 {
		return false, fmt.Errorf("%w: footer length %d does not fit the %d-byte file", errFlatbuffer, flen, len(data))
	}
	f := &fbuf{b: data[start : start+flen]}
	footer, err := f.root()
	if err != nil {
		return false, fmt.Errorf("footer: %w", err)
	}
	if s, ok, err := f.subtable(footer, 1); err != nil {
		return false, fmt.Errorf("footer schema: %w", err)
	} else if ok {
		if err := f.checkSchema(s); err != nil {
			return false, fmt.Errorf("footer schema: %w", err)
		}
	}
	if err := f.keyValues(footer, 4); err != nil {
		return false, fmt.Errorf("footer: %w", err)
	}
	for _, slot := range []struct {
		i    int
		what string
	}{{2, "dictionary"}, {3, "record batch"}} {
		bs, n, err := f.vector(footer, slot.i, 24)
		if err != nil {
			return false, fmt.Errorf("footer: %w", err)
		}
		for k := int64(0); k < n; k++ {
			p := bs + 24*k
			off := int64(binary.LittleEndian.Uint64(f.b[p:]))
			metaLen := int64(int32(binary.LittleEndian.Uint32(f.b[p+8:])))
			bodyLen := int64(binary.LittleEndian.Uint64(f.b[p+16:]))
			if off < 0 || metaLen < 8 || bodyLen < 0 || off > start || metaLen > start-off || bodyLen > start-off-metaLen {
				return false, fmt.Errorf("%s %d: %w: block (offset %d, metadata %d, body %d bytes) outside the file", slot.what, k, errFlatbuffer, off, metaLen, bodyLen)
			}
			meta := data[off : off+metaLen]
			prefix := int64(4)
			if binary.LittleEndian.Uint32(meta) == 0xffffffff {
				prefix = 8
			}
			body := data[off+metaLen : off+metaLen+bodyLen]
			if _, _, err := checkMessage(meta[prefix:], body); err != nil {
				return false, fmt.Errorf("%s %d: %w", slot.what, k, err)
			}
		}
	}
	return f.dicts > 0, nil
}

// checkedMessages is an ipc.MessageReader over a stream that checks every message before
// arrow-go decodes it, bounds lengths by the bytes left in the file, and reports a stream
// that ends without its end-of-stream marker.
type checkedMessages struct {
	r       io.Reader
	left    int64 // bytes not yet read
	n       int   // messages read
	refs    atomic.Int64
	lastMsg *ipc.Message
}

func newCheckedMessages(r io.Reader, size int64) *checkedMessages {
	m := &checkedMessages{r: r, left: size}
	m.refs.Add(1)
	return m
}

// errNoEOS reports a stream without its end-of-stream marker.
var errNoEOS = errors.New("stream ends without its end-of-stream marker (truncated?)")

func (m *checkedMessages) read(p []byte) error {
	if int64(len(p)) > m.left {
		return io.ErrUnexpectedEOF
	}
	if _, err := io.ReadFull(m.r, p); err != nil {
		if errors.Is(err, io.EOF) {
			return io.ErrUnexpectedEOF
		}
		return err
	}
	m.left -= int64(len(p))
	return nil
}

// Message returns the next message, io.EOF at the end-of-stream marker.
func (m *checkedMessages) Message() (*ipc.Message, error) {
	if m.lastMsg != nil {
		m.lastMsg.Release()
		m.lastMsg = nil
	}
	if m.left == 0 {
		return nil, errNoEOS
	}
	var word [4]byte
	if err := m.read(word[:]); err != nil {
		return nil, fmt.Errorf("message %d: %w", m.n, err)
	}
	metaLen := int64(binary.LittleEndian.Uint32(word[:]))
	switch metaLen {
	case 0: // pre-0.15 end-of-stream marker
		return nil, io.EOF
	case 0xffffffff:
		if err := m.read(word[:]); err != nil {
			return nil, fmt.Errorf("message %d: %w", m.n, err)
		}
		metaLen = int64(binary.LittleEndian.Uint32(word[:]))
		if metaLen == 0 {
			return nil, io.EOF
		}
	}
	if metaLen < 4 || metaLen > m.left {
		return nil, fmt.Errorf("message %d: %w: metadata length %d with %d bytes left", m.n, errFlatbuffer, metaLen, m.left)
	}
	meta := make([]byte, metaLen)
	if err := m.read(meta); err != nil {
		return nil, fmt.Errorf("message %d: %w", m.n, err)
	}
	_, bodyLen, err := checkMessage(meta, nil)
	if err != nil {
		return nil, fmt.Errorf("message %d: %w", m.n, err)
	}
	if bodyLen < 0 || bodyLen > m.left {
		return nil, fmt.Errorf("message %d: %w: body length %d with %d bytes left", m.n, errFlatbuffer, bodyLen, m.left)
	}
	body := make([]byte, bodyLen)
	if err := m.read(body); err != nil {
		return nil, fmt.Errorf("message %d: %w", m.n, err)
	}
	if _, _, err := checkMessage(meta, body); err != nil {
		return nil, fmt.Errorf("message %d: %w", m.n, err)
	}
	m.n++
	mb, bb := memory.NewBufferBytes(meta), memory.NewBufferBytes(body)
	m.lastMsg = ipc.NewMessage(mb, bb)
	mb.Release()
	bb.Release()
	return m.lastMsg, nil // valid until the next call, as with arrow-go's own reader
}

// Retain adds a reference.
func (m *checkedMessages) Retain() { m.refs.Add(1) }

// Release drops a reference.
func (m *checkedMessages) Release() {
	if m.refs.Add(-1) == 0 && m.lastMsg != nil {
		m.lastMsg.Release()
		m.lastMsg = nil
	}
}
