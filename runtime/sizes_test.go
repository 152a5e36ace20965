package runtime

import (
	"bytes"
	"encoding/binary"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/internal/testfixtures"
)

// setU32 overwrites the uint32 value of the metadata key in a GGUF file's bytes, as a hostile
// or corrupted header would carry it; it fails the test when the key is not a uint32.
func setU32(t testing.TB, data []byte, key string, v uint32) []byte {
	t.Helper()
	pat := binary.LittleEndian.AppendUint64(nil, uint64(len(key)))
	pat = append(pat, key...)
	i := bytes.Index(data, pat)
	if i < 0 {
		t.Fatalf("key %q not in file", key)
	}
	off := i + len(pat)
	if gguf.ValueType(binary.LittleEndian.Uint32(data[off:])) != gguf.ValueUint32 {
		t.Fatalf("key %q is not a uint32", key)
	}
	out := bytes.Clone(data)
	binary.LittleEndian.PutUint32(out[off+4:], v)
	return out
}

// TestLoadChecksLayerCount: a block_count beyond the layers the file holds is an error naming
// the count, found before anything is allocated per layer (2^31 layers used to end the process
// with a fatal out-of-memory, 1e7 took 25 s and 3.8 GB before failing).
func TestLoadChecksLayerCount(t *testing.T) {
	cfg := tinyConfig("llama")
	good := filepath.Join(t.TempDir(), "m.gguf")
	if err := WriteRandomModel(good, RandomModelOptions{Config: cfg, Type: gguf.TypeF32, Seed: 1}); err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{}
	for _, n := range []uint32{1 << 31, 10_000_000, 3} {
		files[filepath.Join(t.TempDir(), "synth.gguf")] = setU32(t, data, "llama.block_count", n)
	}
	if shared, err := testfixtures.Find(); err == nil {
		fx, err := os.ReadFile(filepath.Join(shared, "fixtures", "shakespeare-llama", "gguf", "teacher-Q8_0.gguf"))
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Join(t.TempDir(), "fixture.gguf")] = setU32(t, fx, "llama.block_count", 1<<31)
	}
	for path, b := range files {
		if err := os.WriteFile(path, b, 0o644); err != nil {
			t.Fatal(err)
		}
		m, err := Load(path, Options{Threads: 1})
		if err == nil {
			m.Close()
			t.Errorf("%s: loaded", path)
			continue
		}
		if !strings.Contains(err.Error(), "block count") || !strings.Contains(err.Error(), path) {
			t.Errorf("%s: error %q does not name the file and the block count", path, err)
		}
	}
	w := randomTensors(cfg, 1)
	for _, n := range []int{1 << 31, 3} {
		c := cfg
		c.Layers = n
		if m, err := FromTensors(c, w, nil, Options{Threads: 1}); err == nil {
			m.Close()
			t.Errorf("FromTensors with %d layers: no error", n)
		} else if !strings.Contains(err.Error(), "block count") {
			t.Errorf("FromTensors with %d layers: %v", n, err)
		}
	}
}
