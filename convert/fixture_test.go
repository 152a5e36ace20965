package convert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// diffGGUF reports the first differences between two GGUF files: metadata keys, order, types
// and values, then tensor names, types, shapes and data.
func diffGGUF(t *testing.T, got, want string) {
	t.Helper()
	a, err := gguf.Open(got)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := gguf.Open(want)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if !reflect.DeepEqual(keysOf(a.Metadata), keysOf(b.Metadata)) {
		t.Errorf("metadata keys differ:\n got %v\nwant %v", keysOf(a.Metadata), keysOf(b.Metadata))
	}
	for _, kv := range b.Metadata {
		v, ok := a.Metadata.Lookup(kv.Key)
		if !ok {
			continue
		}
		if typeOf(a.Metadata, kv.Key) != typeOf(b.Metadata, kv.Key) || !reflect.DeepEqual(v, kv.Value) {
			t.Errorf("metadata %s: got %s %.100v, want %s %.100v", kv.Key, typeOf(a.Metadata, kv.Key), v, typeOf(b.Metadata, kv.Key), kv.Value)
		}
	}
	if len(a.Tensors) != len(b.Tensors) {
		t.Fatalf("%d tensors, want %d", len(a.Tensors), len(b.Tensors))
	}
	for i, tb := range b.Tensors {
		ta := a.Tensors[i]
		if ta.Name != tb.Name || ta.Type != tb.Type || !reflect.DeepEqual(ta.Dims, tb.Dims) {
			t.Errorf("tensor %d: got %s %s %v, want %s %s %v", i, ta.Name, ta.Type, ta.Dims, tb.Name, tb.Type, tb.Dims)
			continue
		}
		if !bytes.Equal(a.TensorData(i), b.TensorData(i)) {
			t.Errorf("tensor %s: data differs", tb.Name)
		}
	}
}

func sameFile(t *testing.T, got, want string) {
	t.Helper()
	a, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(want)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(a, b) {
		diffGGUF(t, got, want)
		t.Fatalf("%s (%d bytes) is not byte-identical to %s (%d bytes)", got, len(a), want, len(b))
	}
}

// TestFixtureMatchesLlamaCpp converts the shared checkpoint and compares with llama.cpp's own
// conversions of it: the whole file must be byte-identical, in F16 and F32. The folder is
// presented under the name llama.cpp saw ("teacher-hf", which it turned into general.name
// "Teacher Hf"); the --name override must give the same bytes from any folder name.
func TestFixtureMatchesLlamaCpp(t *testing.T) {
	fx := fixture(t)
	hf := filepath.Join(fx, "hf")
	named := filepath.Join(t.TempDir(), "teacher-hf")
	if err := os.Mkdir(named, 0o755); err != nil {
		t.Fatal(err)
	}
	ents, err := os.ReadDir(hf)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		if err := os.Symlink(filepath.Join(hf, e.Name()), filepath.Join(named, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	cases := []struct {
		name string
		dir  string
		opts Options
		ref  string
	}{
		{"f16 from teacher-hf", named, Options{OutType: OutF16}, "teacher-F16.gguf"},
		{"f32 from teacher-hf", named, Options{OutType: OutF32}, "teacher-F32.gguf"},
		{"f16 with --name", hf, Options{OutType: OutF16, Name: "Teacher Hf"}, "teacher-F16.gguf"},
		{"f16 single thread", hf, Options{OutType: OutF16, Name: "Teacher Hf", Threads: 1}, "teacher-F16.gguf"},
		{"f32 eight threads", hf, Options{OutType: OutF32, Name: "Teacher Hf", Threads: 8}, "teacher-F32.gguf"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "out.gguf")
			res, err := Convert(context.Background(), c.dir, out, c.opts)
			if err != nil {
				t.Fatal(err)
			}
			sameFile(t, out, filepath.Join(fx, "gguf", c.ref))
			if res.Tensors != 39 || res.Params != 4196608 || res.InputBytes != 8393216 {
				t.Errorf("result %+v", res)
			}
		})
	}
}

// TestFixtureAutoAndBF16 checks llama.cpp's default output type on a bfloat16 checkpoint (BF16)
// and that BF16 output holds the checkpoint's bits unchanged.
func TestFixtureAutoAndBF16(t *testing.T) {
	hf := filepath.Join(fixture(t), "hf")
	out := filepath.Join(t.TempDir(), "auto.gguf")
	res, err := Convert(context.Background(), hf, out, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if res.OutType != OutBF16 {
		t.Fatalf("auto resolved to %q, want bf16", res.OutType)
	}
	f, err := gguf.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if ft, _ := f.Metadata.Uint("general.file_type"); ft != 32 {
		t.Errorf("general.file_type %d, want 32 (MOSTLY_BF16)", ft)
	}
	ref, err := gguf.Open(filepath.Join(fixture(t), "gguf", "teacher-F32.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer ref.Close()
	for i, ti := range f.Tensors {
		want := gguf.TypeBF16
		if len(ti.Dims) == 1 {
			want = gguf.TypeF32
		}
		if ti.Type != want {
			t.Errorf("%s: %s, want %s", ti.Name, ti.Type, want)
		}
		j, _ := ref.TensorIndex(ti.Name)
		if !reflect.DeepEqual(f32Of(ti, f.TensorData(i)), f32Of(ref.Tensors[j], ref.TensorData(j))) {
			t.Errorf("%s: BF16 values differ from the exact F32 upcast", ti.Name)
		}
	}
}

// TestFixtureConfig checks that the Config planned from config.json equals the one the runtime
// reads back from llama.cpp's file.
func TestFixtureConfig(t *testing.T) {
	fx := fixture(t)
	src, err := OpenSource(filepath.Join(fx, "hf"), Options{OutType: OutF16, Name: "Teacher Hf"})
	if err != nil {
		t.Fatal(err)
	}
	defer src.Close()
	f, err := gguf.Open(filepath.Join(fx, "gguf", "teacher-F16.gguf"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	want, err := ConfigFromGGUF(f.Metadata, f.Tensors)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(src.Config, want) {
		t.Errorf("config\n got %+v\nwant %+v", src.Config, want)
	}
	if src.Config.BOS != 1 || src.Config.EOS != 2 || src.Config.TiedEmbeddings || src.Config.KVHeads != 4 {
		t.Errorf("config %+v", src.Config)
	}
}

// TestShardedFixture shards the fixture with our writer (as transformers would, with an index)
// and checks the conversion is the same file.
func TestShardedFixture(t *testing.T) {
	fx := fixture(t)
	hf := filepath.Join(fx, "hf")
	dir := filepath.Join(t.TempDir(), "teacher-hf")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"config.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json"} {
		b, err := os.ReadFile(filepath.Join(hf, n))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, n), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	c, err := safetensors.OpenCheckpoint(hf)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	var infos []safetensors.TensorInfo
	for _, e := range c.Entries() {
		infos = append(infos, e.TensorInfo)
	}
	names, err := safetensors.WriteSharded(dir, map[string]string{"format": "pt"}, infos, 3<<20, func(w *safetensors.ShardedWriter) error {
		for _, e := range c.Entries() {
			if err := w.WriteTensor(e.Name, c.Data(e)); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(names) < 4 {
		t.Fatalf("expected several shards, got %v", names)
	}
	out := filepath.Join(t.TempDir(), "sharded.gguf")
	if _, err := Convert(context.Background(), dir, out, Options{OutType: OutF16}); err != nil {
		t.Fatal(err)
	}
	sameFile(t, out, filepath.Join(fx, "gguf", "teacher-F16.gguf"))
}

// TestRoundTripFixture converts llama.cpp's files to Hugging Face folders and back: the result
// must be byte-identical, single-file and sharded, and the rebuilt tokenizer.model must hold the
// original pieces.
func TestRoundTripFixture(t *testing.T) {
	fx := fixture(t)
	for _, c := range []struct {
		ref   string
		shard int64
	}{{"teacher-F16.gguf", 0}, {"teacher-F32.gguf", 0}, {"teacher-F16.gguf", 2 << 20}} {
		t.Run(fmt.Sprintf("%s shard %d", c.ref, c.shard), func(t *testing.T) {
			ref := filepath.Join(fx, "gguf", c.ref)
			dir := filepath.Join(t.TempDir(), "exported")
			res, err := ToHF(context.Background(), ref, dir, HFOptions{MaxShardSize: c.shard})
			if err != nil {
				t.Fatal(err)
			}
			if len(res.Notes) != 0 {
				t.Errorf("notes: %v", res.Notes)
			}
			if c.shard > 0 && !fileExists(filepath.Join(dir, safetensors.IndexFile)) {
				t.Error("no index for a sharded export")
			}
			out := filepath.Join(t.TempDir(), "back.gguf")
			if _, err := Convert(context.Background(), dir, out, Options{OutType: res.OutType}); err != nil {
				t.Fatal(err)
			}
			sameFile(t, out, ref)
			// The exported weights are the HF originals (q/k permutation undone).
			if c.ref == "teacher-F32.gguf" && c.shard == 0 {
				got, err := safetensors.OpenCheckpoint(dir)
				if err != nil {
					t.Fatal(err)
				}
				defer got.Close()
				orig, err := safetensors.OpenCheckpoint(filepath.Join(fx, "hf"))
				if err != nil {
					t.Fatal(err)
				}
				defer orig.Close()
				for _, e := range orig.Entries() {
					g, ok := got.Lookup(e.Name)
					if !ok {
						t.Fatalf("%s missing", e.Name)
					}
					want := make([]float32, e.NumElements())
					decodeF32(want, orig.Data(e), e.DType)
					have := make([]float32, g.NumElements())
					decodeF32(have, got.Data(g), g.DType)
					if !reflect.DeepEqual(want, have) || !reflect.DeepEqual(e.Shape, g.Shape) {
						t.Errorf("%s: exported tensor differs from the original checkpoint", e.Name)
					}
				}
			}
		})
	}
	orig, err := ReadSPM(filepath.Join(fx, "hf", "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if _, err := ToHF(context.Background(), filepath.Join(fx, "gguf", "teacher-F16.gguf"), dir, HFOptions{}); err != nil {
		t.Fatal(err)
	}
	back, err := ReadSPM(filepath.Join(dir, "tokenizer.model"))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(orig.Pieces, back.Pieces) {
		t.Error("rebuilt tokenizer.model pieces differ from the original")
	}
	if orig.ModelType != back.ModelType || orig.ByteFallback != back.ByteFallback || orig.UnkID != back.UnkID ||
		orig.BOSID != back.BOSID || orig.EOSID != back.EOSID || orig.AddDummyPrefix != back.AddDummyPrefix {
		t.Errorf("trainer/normalizer settings: original %+v, rebuilt %+v", *withoutPieces(orig), *withoutPieces(back))
	}
}

func withoutPieces(m *SPMModel) *SPMModel {
	c := *m
	c.Pieces = nil
	c.PrecompiledCharsmap = nil
	return &c
}

// TestToHFRefusesQuantized checks that quantized files are refused with a clear error.
func TestToHFRefusesQuantized(t *testing.T) {
	ref := filepath.Join(fixture(t), "gguf", "teacher-Q4_0.gguf")
	dir := filepath.Join(t.TempDir(), "out")
	_, err := ToHF(context.Background(), ref, dir, HFOptions{})
	if err == nil || !errors.Is(err, ErrBadInput) {
		t.Fatalf("got %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Errorf("files left: %v", ents)
	}
}
