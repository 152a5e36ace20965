package layering

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"
)

const module = "github.com/mcompress/mcompress"

// pkg is the part of `go list -json` output the rules read.
type pkg struct {
	ImportPath   string
	Deps         []string // transitive imports of the package itself (not its tests)
	TestImports  []string
	XTestImports []string
}

// goTool returns the go command that runs this test: the one on PATH, else GOROOT's.
func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// listPackages returns every package of the module, keyed by path relative to the module
// ("quantize/codec").
func listPackages(t *testing.T) map[string]pkg {
	t.Helper()
	cmd := exec.Command(goTool(), "list", "-json", "./...")
	cmd.Dir = filepath.Join("..", "..")
	cmd.Env = append(os.Environ(), "GOPROXY=off", "GOFLAGS=-mod=readonly")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, stderr.String())
	}
	pkgs := map[string]pkg{}
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p pkg
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("go list output: %v", err)
		}
		if rel, ok := ours(p.ImportPath); ok {
			pkgs[rel] = p
		}
	}
	return pkgs
}

// ours returns path relative to the module when it is one of the module's packages.
func ours(path string) (string, bool) {
	if path == module {
		return ".", true
	}
	rel, ok := strings.CutPrefix(path, module+"/")
	return rel, ok
}

// under reports whether rel is dir or inside it.
func under(rel, dir string) bool { return rel == dir || strings.HasPrefix(rel, dir+"/") }

// rule forbids the packages from selects to depend on the packages of the module that allowed
// does not accept.
type rule struct {
	name    string
	from    func(rel string) bool
	allowed func(dep string) bool
	// named lists packages that must exist and be matched by from, so that a rename cannot
	// make the rule vacuous.
	named []string
}

var leafCodecs = []string{"quantize/codec", "convert/dtype"}

func isLeafCodec(rel string) bool {
	for _, c := range leafCodecs {
		if rel == c {
			return true
		}
	}
	return false
}

var rules = []rule{
	{
		name:    "leaf codecs depend on nothing of ours but each other",
		from:    isLeafCodec,
		allowed: isLeafCodec,
		named:   leafCodecs,
	},
	{
		name:    "file-format codecs depend only on internal helpers",
		from:    func(rel string) bool { return rel == "convert/gguf" || rel == "convert/safetensors" },
		allowed: func(dep string) bool { return under(dep, "internal") },
		named:   []string{"convert/gguf", "convert/safetensors"},
	},
	{
		name:    "quantize does not depend on runtime",
		from:    func(rel string) bool { return under(rel, "quantize") },
		allowed: func(dep string) bool { return !under(dep, "runtime") },
		named:   []string{"quantize", "quantize/codec"},
	},
	{
		name:    "runtime/kernels takes the codecs, not the quantize pipeline",
		from:    func(rel string) bool { return under(rel, "runtime/kernels") },
		allowed: func(dep string) bool { return dep != "quantize" },
		named:   []string{"runtime/kernels"},
	},
	{
		name:    "nothing depends on cmd",
		from:    func(string) bool { return true },
		allowed: func(dep string) bool { return !under(dep, "cmd") },
		named:   []string{"cmd/mcompress"},
	},
}

// violations returns, for each rule, the forbidden dependencies in pkgs ("a -> b"), and the
// rule's named packages that are missing.
func violations(pkgs map[string]pkg) map[string][]string {
	bad := map[string][]string{}
	for _, r := range rules {
		for _, n := range r.named {
			if _, ok := pkgs[n]; !ok || !r.from(n) {
				bad[r.name] = append(bad[r.name], "package "+n+" not found")
			}
		}
		for rel, p := range pkgs {
			if !r.from(rel) {
				continue
			}
			for _, d := range p.Deps {
				if dep, ok := ours(d); ok && !r.allowed(dep) {
					bad[r.name] = append(bad[r.name], rel+" -> "+dep)
				}
			}
		}
		sort.Strings(bad[r.name])
	}
	return bad
}

func TestLayering(t *testing.T) {
	pkgs := listPackages(t)
	for name, v := range violations(pkgs) {
		if len(v) > 0 {
			t.Errorf("%s: %s", name, strings.Join(v, ", "))
		}
	}
	// cmd/mcompress is a main package and cannot be imported, but a test could try.
	for rel, p := range pkgs {
		for _, imp := range append(p.TestImports, p.XTestImports...) {
			if dep, ok := ours(imp); ok && under(dep, "cmd") && !under(rel, "cmd") {
				t.Errorf("tests of %s import %s", rel, dep)
			}
		}
	}
}

// TestRulesCatchViolations feeds the rules graphs that break each of them, so that a rule that
// can no longer fail (a typo in a path, say) is noticed.
func TestRulesCatchViolations(t *testing.T) {
	base := func() map[string]pkg {
		m := map[string]pkg{}
		for _, r := range rules {
			for _, n := range r.named {
				m[n] = pkg{ImportPath: module + "/" + n}
			}
		}
		return m
	}
	dep := func(m map[string]pkg, from string, deps ...string) {
		p := m[from]
		p.ImportPath = module + "/" + from
		for _, d := range deps {
			p.Deps = append(p.Deps, module+"/"+d)
		}
		m[from] = p
	}
	cases := []struct {
		rule string
		edit func(m map[string]pkg)
	}{
		{rules[0].name, func(m map[string]pkg) { dep(m, "quantize/codec", "convert/gguf") }},
		{rules[0].name, func(m map[string]pkg) { dep(m, "convert/dtype", "internal/mmap") }},
		{rules[1].name, func(m map[string]pkg) { dep(m, "convert/gguf", "convert/dtype") }},
		{rules[2].name, func(m map[string]pkg) { dep(m, "quantize", "runtime/kernels") }},
		{rules[2].name, func(m map[string]pkg) { dep(m, "quantize/codec", "runtime") }},
		{rules[3].name, func(m map[string]pkg) { dep(m, "runtime/kernels", "quantize") }},
		{rules[4].name, func(m map[string]pkg) { dep(m, "eval", "cmd/mcompress") }},
		{rules[0].name, func(m map[string]pkg) { delete(m, "quantize/codec") }},
	}
	if v := flatten(violations(base())); len(v) != 0 {
		t.Fatalf("the clean graph breaks rules: %v", v)
	}
	for _, c := range cases {
		m := base()
		c.edit(m)
		if v := violations(m); len(v[c.rule]) == 0 {
			t.Errorf("rule %q missed a violation; all: %v", c.rule, v)
		}
	}
	// The allowed edges of the real graph stay allowed.
	m := base()
	dep(m, "quantize/codec", "convert/dtype")
	dep(m, "runtime/kernels", "quantize/codec", "convert/gguf")
	dep(m, "convert/gguf", "internal/mmap", "internal/atomicfile")
	if v := flatten(violations(m)); len(v) != 0 {
		t.Errorf("allowed edges rejected: %v", v)
	}
}

func flatten(v map[string][]string) []string {
	var out []string
	for _, s := range v {
		out = append(out, s...)
	}
	return out
}
