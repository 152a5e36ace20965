package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/convert/safetensors"
)

// maxShownElems is how many elements of a long metadata array a report shows.
const maxShownElems = 8

// maxShownString is how many bytes of a long string value the text report shows.
const maxShownString = 120

// Report describes a model file or folder for `mcompress inspect`.
type Report struct {
	// Path is what was inspected; Format is "gguf", "safetensors" or "hf-folder".
	Path   string `json:"path"`
	Format string `json:"format"`
	// Metadata lists the key-value metadata in file order (GGUF), sorted by key otherwise.
	Metadata []ReportKV `json:"metadata"`
	// Tensors lists the tensors in file order.
	Tensors []ReportTensor `json:"tensors"`
	// Params counts the tensor elements and Bytes the tensor data.
	Params int64 `json:"params"`
	Bytes  int64 `json:"bytes"`
	// Config is the model description when the architecture is supported.
	Config *Config `json:"config,omitempty"`
}

// ReportKV is one metadata entry. Arrays longer than a few elements are summarized: Value holds
// the first elements and Len the full length.
type ReportKV struct {
	Key   string `json:"key"`
	Type  string `json:"type"`
	Value any    `json:"value"`
	Len   int    `json:"len,omitempty"`
}

// ReportTensor is one tensor: its type, its shape as stored (GGUF dimensions with the row
// length first; PyTorch order for safetensors) and its size.
type ReportTensor struct {
	Name  string  `json:"name"`
	Type  string  `json:"type"`
	Shape []int64 `json:"shape"`
	Bytes int64   `json:"bytes"`
	File  string  `json:"file,omitempty"`
}

// Inspect reads the header of a GGUF file, a safetensors file or a Hugging Face checkpoint
// folder (tensor data are not read). A file is read as GGUF when it starts with the GGUF magic
// or is named *.gguf, as safetensors otherwise; errors about a malformed file name it and the
// format it was read as.
func Inspect(path string) (*Report, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w: %v", ErrBadInput, err)
	}
	if st.IsDir() {
		return inspectFolder(path)
	}
	// The magic decides; failing that, the extension names the format the file promises, so
	// that a broken .gguf is reported as a broken GGUF file.
	if IsGGUF(path) || strings.EqualFold(filepath.Ext(path), ".gguf") {
		return inspectGGUF(path)
	}
	return inspectSafetensors(path)
}

// IsGGUF reports whether path is a regular file starting with the GGUF magic.
func IsGGUF(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	var magic [4]byte
	_, err = io.ReadFull(f, magic[:])
	return err == nil && string(magic[:]) == gguf.Magic
}

func inspectGGUF(path string) (*Report, error) {
	f, err := gguf.Open(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w: %w", ErrBadInput, err)
	}
	defer f.Close()
	r := &Report{Path: path, Format: "gguf"}
	for _, kv := range f.Metadata {
		r.Metadata = append(r.Metadata, summarizeGGUF(kv))
	}
	for _, t := range f.Tensors {
		shape := make([]int64, len(t.Dims))
		for i, d := range t.Dims {
			shape[i] = int64(d)
		}
		r.Tensors = append(r.Tensors, ReportTensor{Name: t.Name, Type: t.Type.String(), Shape: shape, Bytes: int64(t.Size())})
		r.Params += int64(t.NumElements())
		r.Bytes += int64(t.Size())
	}
	if c, err := ConfigFromGGUF(f.Metadata, f.Tensors); err == nil {
		r.Config = &c
	}
	return r, nil
}

func summarizeGGUF(kv gguf.KV) ReportKV {
	vt, _ := gguf.TypeOf(kv.Value)
	out := ReportKV{Key: kv.Key, Type: vt.String(), Value: finite(kv.Value)}
	if a, ok := kv.Value.(gguf.Array); ok {
		out.Type = "array<" + a.Type.String() + ">"
		out.Len = a.Len()
		head := headOf(a.Values, maxShownElems)
		for i := range head {
			head[i] = finite(head[i])
		}
		out.Value = head
	}
	return out
}

// finite replaces NaN and infinities (which JSON cannot hold) by their names.
func finite(v any) any {
	switch x := v.(type) {
	case float32:
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return fmt.Sprint(x)
		}
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return fmt.Sprint(x)
		}
	}
	return v
}

// headOf returns the first n elements of a typed slice as []any.
func headOf(v any, n int) []any {
	var out []any
	switch x := v.(type) {
	case []string:
		for _, e := range x[:min(n, len(x))] {
			out = append(out, e)
		}
	case []float32:
		for _, e := range x[:min(n, len(x))] {
			out = append(out, e)
		}
	case []int32:
		for _, e := range x[:min(n, len(x))] {
			out = append(out, e)
		}
	case []float64:
		for _, e := range x[:min(n, len(x))] {
			out = append(out, e)
		}
	case []gguf.Array:
		for _, e := range x[:min(n, len(x))] {
			out = append(out, fmt.Sprintf("array<%s>[%d]", e.Type, e.Len()))
		}
	default:
		// Remaining numeric and bool slices.
		b, _ := json.Marshal(v)
		var all []any
		_ = json.Unmarshal(b, &all)
		out = all[:min(n, len(all))]
	}
	if out == nil {
		out = []any{}
	}
	return out
}

func inspectSafetensors(path string) (*Report, error) {
	c, err := safetensors.OpenCheckpoint(path)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w: %w", ErrBadInput, err)
	}
	defer c.Close()
	r := &Report{Path: path, Format: "safetensors"}
	addSafetensorsMeta(r, c)
	f := c.Files[0]
	for _, t := range f.Tensors {
		r.Tensors = append(r.Tensors, ReportTensor{Name: t.Name, Type: string(t.DType), Shape: t.Shape, Bytes: t.Size()})
		r.Params += t.NumElements()
		r.Bytes += t.Size()
	}
	return r, nil
}

func addSafetensorsMeta(r *Report, c *safetensors.Checkpoint) {
	md := c.Metadata()
	keys := make([]string, 0, len(md))
	for k := range md {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		r.Metadata = append(r.Metadata, ReportKV{Key: "__metadata__." + k, Type: "string", Value: md[k]})
	}
}

func inspectFolder(dir string) (*Report, error) {
	r := &Report{Path: dir, Format: "hf-folder"}
	hp, err := readConfig(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w", err)
	}
	keys := make([]string, 0, len(hp.m))
	for k := range hp.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		v := hp.m[k]
		kv := ReportKV{Key: "config." + k, Type: jsonType(v), Value: v}
		if a, ok := v.([]any); ok && len(a) > maxShownElems {
			kv.Len, kv.Value = len(a), a[:maxShownElems]
		}
		r.Metadata = append(r.Metadata, kv)
	}
	c, err := safetensors.OpenCheckpoint(dir)
	if err != nil {
		return nil, fmt.Errorf("inspect: %w: %w", ErrBadInput, err)
	}
	defer c.Close()
	addSafetensorsMeta(r, c)
	for _, e := range c.Entries() {
		t := ReportTensor{Name: e.Name, Type: string(e.DType), Shape: e.Shape, Bytes: e.Size()}
		if len(c.Files) > 1 {
			t.File = filepath.Base(c.Files[e.File].Path)
		}
		r.Tensors = append(r.Tensors, t)
		r.Params += e.NumElements()
		r.Bytes += e.Size()
	}
	if _, a, err := lookupArch(hp); err == nil {
		fillConfigDefaults(hp, a)
		if cfg, err := configFromHF(hp, a); err == nil {
			_, lm := c.Lookup("lm_head.weight")
			cfg.TiedEmbeddings = !lm
			r.Config = &cfg
		}
	}
	return r, nil
}

func jsonType(v any) string {
	switch v.(type) {
	case nil:
		return "null"
	case bool:
		return "bool"
	case string:
		return "string"
	case json.Number:
		return "number"
	case []any:
		return "array"
	case map[string]any:
		return "object"
	}
	return fmt.Sprintf("%T", v)
}

// WriteText prints the report for people: metadata one per line (long values shortened), then
// a tensor table.
func (r *Report) WriteText(w io.Writer) error {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s (%s): %d tensors, %d parameters, %s\n", r.Path, r.Format, len(r.Tensors), r.Params, humanBytes(r.Bytes))
	if len(r.Metadata) > 0 {
		b.WriteString("\nmetadata:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		for _, kv := range r.Metadata {
			fmt.Fprintf(tw, "  %s\t%s\t%s\n", kv.Key, kv.Type, shortValue(kv))
		}
		tw.Flush()
	}
	if len(r.Tensors) > 0 {
		b.WriteString("\ntensors:\n")
		tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
		fmt.Fprintf(tw, "  name\ttype\tshape\tbytes\n")
		for _, t := range r.Tensors {
			dims := make([]string, len(t.Shape))
			for i, d := range t.Shape {
				dims[i] = fmt.Sprint(d)
			}
			name := t.Name
			if t.File != "" {
				name += " (" + t.File + ")"
			}
			fmt.Fprintf(tw, "  %s\t%s\t[%s]\t%d\n", name, t.Type, strings.Join(dims, ", "), t.Bytes)
		}
		tw.Flush()
	}
	_, err := w.Write(b.Bytes())
	return err
}

func shortValue(kv ReportKV) string {
	var s string
	switch v := kv.Value.(type) {
	case string:
		s = fmt.Sprintf("%q", v)
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			if str, ok := e.(string); ok {
				parts[i] = fmt.Sprintf("%q", str)
			} else {
				parts[i] = fmt.Sprint(e)
			}
		}
		s = "[" + strings.Join(parts, ", ")
		if kv.Len > len(v) {
			s += fmt.Sprintf(", ... (%d total)", kv.Len)
		}
		s += "]"
	default:
		b, err := json.Marshal(v)
		if err != nil {
			s = fmt.Sprint(v)
		} else {
			s = string(b)
		}
	}
	if len(s) > maxShownString {
		s = s[:maxShownString] + fmt.Sprintf("... (%d bytes)", len(s))
	}
	return s
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
