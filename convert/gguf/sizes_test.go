package gguf

import (
	"encoding/binary"
	"errors"
	"strings"
	"testing"
)

// TestParseCountsFitTogether: the tensor and metadata counts are checked against the bytes
// left before anything is sized by them, together and not only each on its own (a header
// claiming a full file's worth of each used to allocate for both before failing).
func TestParseCountsFitTogether(t *testing.T) {
	header := func(nTensors, nKV uint64, size int) []byte {
		b := make([]byte, size)
		copy(b, Magic)
		binary.LittleEndian.PutUint32(b[4:], 3)
		binary.LittleEndian.PutUint64(b[8:], nTensors)
		binary.LittleEndian.PutUint64(b[16:], nKV)
		return b
	}
	const size = 24 + 24*1000
	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"both at their bound", header(1000, 1000*24/13, size), "tensor count 1000 and metadata count 1846 need at least 47998 bytes, 24000 left"},
		{"tensors fill the file, one pair", header(1000, 1, size), "tensor count 1000 and metadata count 1"},
		{"empty file", nil, "not a GGUF file: 0 bytes, too short"},
		{"three bytes", []byte("GGU"), "not a GGUF file: 3 bytes"},
		{"bad magic", []byte("hello\n"), `not a GGUF file: magic "hell", want "GGUF"`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Parse(c.data)
			if err == nil {
				t.Fatal("parsed")
			}
			if !errors.Is(err, ErrFormat) || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not wrap ErrFormat or mention %q", err, c.want)
			}
		})
	}
}
