package convert

import (
	"bufio"
	"context"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mcompress/mcompress/convert/safetensors"
)

// benchSize is the checkpoint size of BenchmarkConvert in GB (MCOMPRESS_BENCH_CONVERT_GB).
func benchSize() float64 {
	if s := os.Getenv("MCOMPRESS_BENCH_CONVERT_GB"); s != "" {
		if f, err := strconv.ParseFloat(s, 64); err == nil && f > 0 {
			return f
		}
	}
	return 2
}

// writeBenchCheckpoint writes a BF16 Llama checkpoint of about gb gigabytes into dir, streaming
// its data from a cheap generator so that writing it needs little memory.
func writeBenchCheckpoint(tb testing.TB, dir string, gb float64) synth {
	s := synth{arch: "LlamaForCausalLM", modelType: "llama", hidden: 2048, heads: 16, kv: 4, ffn: 5632,
		vocab: 32000, dtype: safetensors.BF16, tokenizer: "spm"}
	perLayer := 2.0 * float64(s.hidden*(2*s.hidden+2*s.kv*s.hd())+3*s.hidden*s.ffn)
	embed := 2.0 * 2 * float64(s.vocab*s.hidden)
	s.layers = max(1, int((gb*1e9-embed)/perLayer+0.5))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	writeJSON(tb, filepath.Join(dir, "config.json"), map[string]any{
		"architectures": []string{s.arch}, "model_type": "llama", "vocab_size": s.vocab, "hidden_size": s.hidden,
		"intermediate_size": s.ffn, "num_hidden_layers": s.layers, "num_attention_heads": s.heads,
		"num_key_value_heads": s.kv, "max_position_embeddings": 4096, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
		"torch_dtype": "bfloat16", "bos_token_id": 1, "eos_token_id": 2,
	})
	writeSPM(tb, dir, s.vocab)
	infos := s.hfTensors()
	var x uint32 = 2463534242
	buf := make([]byte, 1<<20)
	_, err := safetensors.WriteSharded(dir, map[string]string{"format": "pt"}, infos, 4<<30, func(w *safetensors.ShardedWriter) error {
		for _, ti := range infos {
			n := int64(2)
			for _, d := range ti.Shape {
				n *= d
			}
			data := make([]byte, 0, n)
			for int64(len(data)) < n {
				k := min(int64(len(buf)), n-int64(len(data)))
				for i := int64(0); i < k; i += 2 {
					x ^= x << 13
					x ^= x >> 17
					x ^= x << 5
					// bfloat16 values of magnitude ~0.01-0.05, random sign and mantissa
					binary.LittleEndian.PutUint16(buf[i:], uint16(0x3c00|(x&0x83ff)))
				}
				data = append(data, buf[:k]...)
			}
			if err := w.WriteTensor(ti.Name, data); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatal(err)
	}
	return s
}

// vmHWM returns the process's peak resident set in bytes (Linux).
func vmHWM() int64 {
	f, err := os.Open("/proc/self/status")
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return -1
}

// cpuTime returns the process's user+system CPU time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestConvertHelperProcess is not a test: BenchmarkConvert runs the test binary with it to
// measure one conversion's time and peak memory in a fresh process.
func TestConvertHelperProcess(t *testing.T) {
	in, out := os.Getenv("MCOMPRESS_CONVERT_HELPER_IN"), os.Getenv("MCOMPRESS_CONVERT_HELPER_OUT")
	if in == "" {
		t.Skip("helper process for BenchmarkConvert")
	}
	start := time.Now()
	res, err := Convert(context.Background(), in, out, Options{OutType: OutType(os.Getenv("MCOMPRESS_CONVERT_HELPER_TYPE"))})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("HELPER %d %d %d %d %d\n", time.Since(start).Nanoseconds(), vmHWM(), res.InputBytes, res.OutputBytes, cpuTime().Nanoseconds())
}

// BenchmarkConvert converts a synthetic BF16 checkpoint of MCOMPRESS_BENCH_CONVERT_GB gigabytes
// (default 2) to F16 and to BF16 in a child process, reporting input MB per second of wall time
// and of CPU time and the child's peak resident memory, next to the same rates for a plain copy
// of the checkpoint with fsync (the pace of the disk and the kernel's page cache). MCOMPRESS_BENCH_DIR chooses the folder (default: a temporary one).
func BenchmarkConvert(b *testing.B) {
	if testing.Short() {
		b.Skip("writes a multi-GB checkpoint; not in -short")
	}
	root := os.Getenv("MCOMPRESS_BENCH_DIR")
	if root == "" {
		root = b.TempDir()
	} else {
		var err error
		if root, err = os.MkdirTemp(root, "convert-bench-"); err != nil {
			b.Fatal(err)
		}
		defer os.RemoveAll(root)
	}
	dir := filepath.Join(root, "bench-llama")
	s := writeBenchCheckpoint(b, dir, benchSize())
	in := filepath.Join(dir, "model.safetensors")
	st, _ := os.Stat(in)
	b.Logf("checkpoint: %d layers, %.2f GB BF16, GOMAXPROCS %d", s.layers, float64(st.Size())/1e9, runtime.GOMAXPROCS(0))
	// Baseline: copy the same bytes with fsync.
	copyRate := func() (float64, float64) {
		start, cpu0 := time.Now(), cpuTime()
		src, _ := os.Open(in)
		defer src.Close()
		dst, _ := os.Create(filepath.Join(root, "copy.bin"))
		w := bufio.NewWriterSize(dst, 1<<20)
		n, _ := w.ReadFrom(src)
		w.Flush()
		dst.Sync()
		dst.Close()
		os.Remove(filepath.Join(root, "copy.bin"))
		return float64(n) / 1e6 / time.Since(start).Seconds(), float64(n) / 1e6 / (cpuTime() - cpu0).Seconds()
	}
	for _, ot := range []OutType{OutF16, OutBF16} {
		b.Run(string(ot), func(b *testing.B) {
			var mbps, cpuMBps, peak float64
			for i := 0; i < b.N; i++ {
				out := filepath.Join(root, "out.gguf")
				cmd := exec.Command(os.Args[0], "-test.run=^TestConvertHelperProcess$", "-test.v")
				cmd.Env = append(os.Environ(), "MCOMPRESS_CONVERT_HELPER_IN="+dir, "MCOMPRESS_CONVERT_HELPER_OUT="+out,
					"MCOMPRESS_CONVERT_HELPER_TYPE="+string(ot))
				outb, err := cmd.CombinedOutput()
				if err != nil {
					b.Fatalf("helper: %v\n%s", err, outb)
				}
				var ns, hwm, inBytes, outBytes, cpuNs int64
				for _, line := range strings.Split(string(outb), "\n") {
					if strings.HasPrefix(line, "HELPER ") {
						fmt.Sscan(strings.TrimPrefix(line, "HELPER "), &ns, &hwm, &inBytes, &outBytes, &cpuNs)
					}
				}
				if ns == 0 {
					b.Fatalf("no measurement:\n%s", outb)
				}
				mbps = float64(inBytes) / 1e6 / (float64(ns) / 1e9)
				cpuMBps = float64(inBytes) / 1e6 / (float64(cpuNs) / 1e9)
				peak = float64(hwm) / (1 << 20)
				os.Remove(out)
			}
			b.ReportMetric(mbps, "MB/s")
			b.ReportMetric(cpuMBps, "MB/cpu-s")
			b.ReportMetric(peak, "peak-RSS-MiB")
			wall, cpu := copyRate()
			b.ReportMetric(wall, "copy-MB/s")
			b.ReportMetric(cpu, "copy-MB/cpu-s")
		})
	}
}
