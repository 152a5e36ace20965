package datasets

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
)

// This file walks a Parquet footer (Thrift compact protocol) before arrow-go decodes it. The
// generated Thrift code allocates every list at the length its header declares, and Thrift
// only caps that length at 100 MB worth of elements: a few corrupt bytes in a footer can ask
// for gigabytes, a fatal out-of-memory rather than a recoverable panic. The walk needs no
// schema (the compact protocol describes itself) and checks that every list, set, map and
// string fits in the bytes that remain, so that decoding allocates in proportion to the
// footer.

// maxThriftNesting bounds struct and container nesting; Parquet footers nest a few levels.
const maxThriftNesting = 64

var errThrift = errors.New("invalid Parquet footer")

// thriftWalker reads a compact-protocol buffer.
type thriftWalker struct {
	b   []byte
	pos int
}

func (w *thriftWalker) byte() (byte, error) {
	if w.pos >= len(w.b) {
		return 0, fmt.Errorf("%w: ends early", errThrift)
	}
	c := w.b[w.pos]
	w.pos++
	return c, nil
}

func (w *thriftWalker) varint() (uint64, error) {
	var v uint64
	for shift := 0; shift < 64; shift += 7 {
		c, err := w.byte()
		if err != nil {
			return 0, err
		}
		v |= uint64(c&0x7f) << shift
		if c < 0x80 {
			return v, nil
		}
	}
	return 0, fmt.Errorf("%w: varint too long", errThrift)
}

func (w *thriftWalker) skip(n uint64) error {
	if n > uint64(len(w.b)-w.pos) {
		return fmt.Errorf("%w: %d bytes declared, %d left", errThrift, n, len(w.b)-w.pos)
	}
	w.pos += int(n)
	return nil
}

// count reads a container length and checks that its elements (at least one byte each) fit.
func (w *thriftWalker) count(n uint64) error {
	if n > uint64(len(w.b)-w.pos) {
		return fmt.Errorf("%w: container of %d elements with %d bytes left", errThrift, n, len(w.b)-w.pos)
	}
	return nil
}

// structure skips one struct: fields until STOP.
func (w *thriftWalker) structure(depth int) error {
	if depth > maxThriftNesting {
		return fmt.Errorf("%w: nested more than %d levels", errThrift, maxThriftNesting)
	}
	for {
		h, err := w.byte()
		if err != nil {
			return err
		}
		t := h & 0x0f
		if t == 0 { // STOP
			return nil
		}
		if h>>4 == 0 { // long form: the field id follows as a zigzag varint
			if _, err := w.varint(); err != nil {
				return err
			}
		}
		if t == 1 || t == 2 { // booleans live in the field header
			continue
		}
		if err := w.value(t, depth); err != nil {
			return err
		}
	}
}

// value skips one value of compact type t.
func (w *thriftWalker) value(t byte, depth int) error {
	switch t {
	case 1, 2, 3: // bool (in a container: one byte), byte
		return w.skip(1)
	case 4, 5, 6: // i16, i32, i64
		_, err := w.varint()
		return err
	case 7: // double
		return w.skip(8)
	case 8: // binary / string
		n, err := w.varint()
		if err != nil {
			return err
		}
		return w.skip(n)
	case 9, 10: // list, set
		h, err := w.byte()
		if err != nil {
			return err
		}
		n := uint64(h >> 4)
		if n == 15 {
			if n, err = w.varint(); err != nil {
				return err
			}
		}
		if err := w.count(n); err != nil {
			return err
		}
		et := h & 0x0f
		for i := uint64(0); i < n; i++ {
			if err := w.value(et, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 11: // map
		n, err := w.varint()
		if err != nil {
			return err
		}
		if n == 0 {
			return nil
		}
		if err := w.count(n); err != nil {
			return err
		}
		kv, err := w.byte()
		if err != nil {
			return err
		}
		for i := uint64(0); i < n; i++ {
			if err := w.value(kv>>4, depth+1); err != nil {
				return err
			}
			if err := w.value(kv&0x0f, depth+1); err != nil {
				return err
			}
		}
		return nil
	case 12: // struct
		return w.structure(depth + 1)
	case 13: // uuid
		return w.skip(16)
	}
	return fmt.Errorf("%w: unknown compact type %d", errThrift, t)
}

// checkParquetFooter reads the footer of the Parquet file at path and walks it. Files with an
// encrypted footer ("PARE") are left to arrow-go, which refuses them without keys.
func checkParquetFooter(path string, size int64) error {
	f, err := os.Open(path)
	if err != nil {
		return err
	}
	defer f.Close()
	if size < 12 {
		return fmt.Errorf("%w: file of %d bytes is too small", errThrift, size)
	}
	var tail [8]byte
	if _, err := f.ReadAt(tail[:], size-8); err != nil {
		return err
	}
	switch string(tail[4:]) {
	case "PAR1":
	case "PARE":
		return nil
	default:
		return fmt.Errorf("%w: no PAR1 magic at the end (truncated?)", errThrift)
	}
	n := int64(binary.LittleEndian.Uint32(tail[:4]))
	if n <= 0 || n > size-12 {
		return fmt.Errorf("%w: footer length %d does not fit the %d-byte file", errThrift, n, size)
	}
	footer := make([]byte, n)
	if _, err := f.ReadAt(footer, size-8-n); err != nil && !errors.Is(err, io.EOF) {
		return err
	}
	w := &thriftWalker{b: footer}
	return w.structure(0)
}
