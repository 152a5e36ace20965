package quantize

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert/dtype"
	"github.com/mcompress/mcompress/convert/gguf"
)

// familyInput describes a small F32 model of GGUF architecture arch, shaped like the files the
// converter writes for Gemma 2/3 and Phi-3 (rows of 256 so the K-quants apply, one of 320 to
// exercise a fallback; tied embeddings for Gemma, fused tensors and LongRoPE factors for Phi-3).
func familyInput(arch string) (gguf.Metadata, []gguf.TensorInfo) {
	const hidden, layers, heads, kv, hd, ffn, vocab = 256, 2, 2, 1, 128, 320, 288
	md := gguf.Metadata{
		{Key: "general.architecture", Value: arch},
		{Key: "general.type", Value: "model"},
		{Key: "general.name", Value: "tiny " + arch},
		{Key: arch + ".context_length", Value: uint32(256)},
		{Key: arch + ".embedding_length", Value: uint32(hidden)},
		{Key: arch + ".block_count", Value: uint32(layers)},
		{Key: arch + ".feed_forward_length", Value: uint32(ffn)},
		{Key: arch + ".attention.head_count", Value: uint32(heads)},
		{Key: arch + ".attention.head_count_kv", Value: uint32(kv)},
		{Key: arch + ".attention.layer_norm_rms_epsilon", Value: float32(1e-6)},
		{Key: arch + ".attention.key_length", Value: uint32(hd)},
		{Key: arch + ".attention.value_length", Value: uint32(hd)},
		{Key: "general.file_type", Value: uint32(0)},
	}
	switch arch {
	case "gemma2":
		md = append(md, gguf.KV{Key: "gemma2.attn_logit_softcapping", Value: float32(50)},
			gguf.KV{Key: "gemma2.final_logit_softcapping", Value: float32(30)},
			gguf.KV{Key: "gemma2.attention.sliding_window", Value: uint32(64)})
	case "gemma3":
		md = append(md, gguf.KV{Key: "gemma3.rope.freq_base", Value: float32(1e6)},
			gguf.KV{Key: "gemma3.attention.sliding_window", Value: uint32(64)})
	case "phi3":
		md = append(md, gguf.KV{Key: "phi3.rope.dimension_count", Value: uint32(96)},
			gguf.KV{Key: "phi3.rope.scaling.original_context_length", Value: uint32(64)},
			gguf.KV{Key: "phi3.rope.scaling.attn_factor", Value: float32(1.1)},
			gguf.KV{Key: "phi3.attention.sliding_window", Value: uint32(0)})
	}
	md = append(md, gguf.KV{Key: "general.quantization_version", Value: uint32(2)})
	var infos []gguf.TensorInfo
	add := func(name string, dims ...uint64) {
		infos = append(infos, gguf.TensorInfo{Name: name, Type: gguf.TypeF32, Dims: dims})
	}
	if arch == "phi3" {
		add("rope_factors_long.weight", 48)
		add("rope_factors_short.weight", 48)
	}
	add("token_embd.weight", hidden, vocab)
	add("output_norm.weight", hidden)
	if arch == "phi3" {
		add("output.weight", hidden, vocab)
	}
	for l := range layers {
		p := fmt.Sprintf("blk.%d.", l)
		add(p+"attn_norm.weight", hidden)
		add(p+"attn_output.weight", heads*hd, hidden)
		add(p+"ffn_down.weight", ffn, hidden)
		add(p+"ffn_norm.weight", hidden)
		if arch == "phi3" {
			add(p+"attn_qkv.weight", hidden, (heads+2*kv)*hd)
			add(p+"ffn_up.weight", hidden, 2*ffn)
			continue
		}
		add(p+"attn_q.weight", hidden, heads*hd)
		add(p+"attn_k.weight", hidden, kv*hd)
		add(p+"attn_v.weight", hidden, kv*hd)
		add(p+"ffn_gate.weight", hidden, ffn)
		add(p+"ffn_up.weight", hidden, ffn)
		add(p+"post_attention_norm.weight", hidden)
		add(p+"post_ffw_norm.weight", hidden)
		if arch == "gemma3" {
			add(p+"attn_q_norm.weight", hd)
			add(p+"attn_k_norm.weight", hd)
		}
	}
	return md, infos
}

// writeFamilyInput writes familyInput(arch) with deterministic random values to path.
func writeFamilyInput(t *testing.T, arch, path string) {
	t.Helper()
	md, infos := familyInput(arch)
	rng := rand.New(rand.NewPCG(13, uint64(len(arch))))
	err := gguf.WriteFile(path, md, infos, func(w *gguf.Writer) error {
		for _, ti := range infos {
			n := 1
			for _, d := range ti.Dims {
				n *= int(d)
			}
			v := make([]float32, n)
			for i := range v {
				v[i] = float32(rng.NormFloat64() / math.Sqrt(float64(ti.Dims[0])))
				if len(ti.Dims) == 1 {
					v[i] = float32(1 + 0.1*rng.NormFloat64())
				}
			}
			b := make([]byte, 4*n)
			dtype.EncodeF32(b, v)
			if err := w.WriteTensor(ti.Name, b); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestFamiliesMatchLlamaQuantize quantizes the Gemma 2/3 and Phi-3 inputs with the mixes listed
// in testdata/families/llama-quantize.sha256 and compares the SHA-256 of the whole output
// with llama-quantize's (made by testdata/families/make.sh; the inputs are rebuilt here, so
// only the hashes are committed). With MCOMPRESS_FAMILY_INPUTS set to a folder, the inputs are
// written there for the script.
func TestFamiliesMatchLlamaQuantize(t *testing.T) {
	if dir := os.Getenv("MCOMPRESS_FAMILY_INPUTS"); dir != "" {
		for _, arch := range []string{"gemma2", "gemma3", "phi3"} {
			writeFamilyInput(t, arch, filepath.Join(dir, arch+"-F32.gguf"))
		}
		return
	}
	f, err := os.Open(filepath.Join("testdata", "families", "llama-quantize.sha256"))
	if err != nil {
		t.Skipf("no llama-quantize hashes: %v", err)
	}
	defer f.Close()
	inputs := map[string]string{}
	sc := bufio.NewScanner(f)
	n := 0
	for sc.Scan() {
		// "<sha256>  <arch>-<MIX>.gguf"
		fields := strings.Fields(sc.Text())
		if len(fields) != 2 {
			continue
		}
		want, name := fields[0], strings.TrimSuffix(fields[1], ".gguf")
		arch, mixName, _ := strings.Cut(name, "-")
		in, ok := inputs[arch]
		if !ok {
			in = filepath.Join(t.TempDir(), arch+"-F32.gguf")
			writeFamilyInput(t, arch, in)
			inputs[arch] = in
		}
		out := filepath.Join(t.TempDir(), name+".gguf")
		if _, err := QuantizeFile(context.Background(), in, out, Options{Mix: mustMix(t, mixName), Threads: 2}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b, err := os.ReadFile(out)
		if err != nil {
			t.Fatal(err)
		}
		sum := sha256.Sum256(b)
		if got := hex.EncodeToString(sum[:]); got != want {
			t.Errorf("%s: sha256 %s, llama-quantize's %s", name, got, want)
		}
		n++
	}
	if n == 0 {
		t.Fatal("no hashes in llama-quantize.sha256")
	}
}
