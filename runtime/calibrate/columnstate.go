package calibrate

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math"
)

// columnStateMagic starts the file written by ColumnSquares.WriteState.
const columnStateMagic = "mcompress column squares v1\n"

// WriteState writes the exact state of c (every weight's exact column sums and count) so that
// a collection split over several processes can be merged without rounding (ReadColumnState,
// Merge). The format, little-endian: the magic line, the number of weights (uint32), then per
// weight in sorted order its name (uint32 length, bytes), column count (uint32), vector count
// (int64) and per column the four 64-bit words of its ExactSum, lowest first.
func (c *ColumnSquares) WriteState(w io.Writer) error {
	bw := bufio.NewWriter(w)
	bw.WriteString(columnStateMagic)
	names := c.Names()
	var b [8]byte
	put32 := func(v uint32) { binary.LittleEndian.PutUint32(b[:4], v); bw.Write(b[:4]) }
	put64 := func(v uint64) { binary.LittleEndian.PutUint64(b[:], v); bw.Write(b[:]) }
	put32(uint32(len(names)))
	for _, n := range names {
		e := c.entries[n]
		put32(uint32(len(n)))
		bw.WriteString(n)
		put32(uint32(len(e.sums)))
		put64(uint64(e.count))
		for _, s := range e.sums {
			for _, word := range s {
				put64(word)
			}
		}
	}
	return bw.Flush()
}

// ReadColumnState reads what WriteState wrote into a ColumnSquares (with no MinRows or Select:
// it is for merging, not for collecting more).
func ReadColumnState(r io.Reader) (*ColumnSquares, error) {
	br := bufio.NewReader(r)
	magic := make([]byte, len(columnStateMagic))
	if _, err := io.ReadFull(br, magic); err != nil || string(magic) != columnStateMagic {
		return nil, fmt.Errorf("not a column-squares state file (it should start with %q)", columnStateMagic[:len(columnStateMagic)-1])
	}
	var b [8]byte
	var rerr error
	get := func(n int) []byte {
		if rerr == nil {
			_, rerr = io.ReadFull(br, b[:n])
		}
		return b[:n]
	}
	get32 := func() uint32 { return binary.LittleEndian.Uint32(get(4)) }
	get64 := func() uint64 { return binary.LittleEndian.Uint64(get(8)) }
	c := &ColumnSquares{entries: map[string]*columnSums{}}
	n := get32()
	for i := uint32(0); i < n && rerr == nil; i++ {
		l := get32()
		if rerr != nil || l > 1<<16 {
			return nil, fmt.Errorf("weight %d: bad name length %d", i, l)
		}
		name := make([]byte, l)
		if _, err := io.ReadFull(br, name); err != nil {
			rerr = err
			break
		}
		cols := get32()
		count := get64()
		if rerr == nil && (cols > 1<<24 || count > math.MaxInt64) {
			return nil, fmt.Errorf("weight %q: %d columns over %d vectors is not a column-squares entry", name, cols, count)
		}
		e := &columnSums{sums: make([]ExactSum, cols), count: int64(count)}
		for j := range e.sums {
			for k := range e.sums[j] {
				e.sums[j][k] = get64()
			}
		}
		if _, dup := c.entries[string(name)]; dup {
			return nil, fmt.Errorf("weight %q appears twice", name)
		}
		c.entries[string(name)] = e
	}
	if rerr != nil {
		if errors.Is(rerr, io.EOF) {
			rerr = io.ErrUnexpectedEOF
		}
		return nil, fmt.Errorf("truncated column-squares state: %w", rerr)
	}
	if _, err := br.ReadByte(); err != io.EOF {
		return nil, fmt.Errorf("column-squares state has bytes after its %d weights", n)
	}
	return c, nil
}

// Merge adds o's sums and counts to c exactly, so that merging the collections of disjoint
// parts of the data gives the statistics of one collection over all of it. A weight with a
// different column count in the two is an error, and c is then unchanged.
func (c *ColumnSquares) Merge(o *ColumnSquares) error {
	for n, b := range o.entries {
		if a, ok := c.entries[n]; ok && len(a.sums) != len(b.sums) {
			return fmt.Errorf("%q has %d columns in one collection and %d in the other", n, len(a.sums), len(b.sums))
		}
	}
	if c.entries == nil {
		c.entries = map[string]*columnSums{}
	}
	for n, b := range o.entries {
		a := c.entries[n]
		if a == nil {
			a = &columnSums{sums: make([]ExactSum, len(b.sums))}
			c.entries[n] = a
		}
		for j := range b.sums {
			a.sums[j].AddSum(b.sums[j])
		}
		a.count += b.count
	}
	return nil
}
