package datasets

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/mcompress/mcompress/internal/yamltext"
)

// Split is one split of a dataset folder and its data files (shards), in reading order.
type Split struct {
	// Name is the split name ("train", "validation", "test", or a custom name).
	Name string `json:"name"`
	// Files are the shard paths (joined to the folder path), in order.
	Files []string `json:"files"`
}

// Layout describes how a dataset folder maps to splits.
type Layout struct {
	// Source says where the mapping came from: "readme" (README.md YAML configs),
	// "save_to_disk" (dataset_dict.json / state.json) or "conventions" (file names).
	Source string `json:"source"`
	// Config is the chosen config_name (README configs only).
	Config string `json:"config,omitempty"`
	// Configs lists every config_name of the README, in order.
	Configs []string `json:"configs,omitempty"`
	// Splits are the splits in the order the folder declares them (for conventions: train,
	// validation, test, then others by name).
	Splits []Split `json:"splits"`
}

// maxReadmeBytes bounds how much of a README.md is read for its front matter.
const maxReadmeBytes = 4 << 20

// ResolveFolder works out the splits of a Hugging Face dataset folder: from the README.md
// YAML configs (data_files globs per split; opts.Config picks the config), from a
// save_to_disk layout (dataset_dict.json with one folder per split, or a state.json), or from
// file-name conventions (data/{split}-00000-of-00002.parquet, train.jsonl, test/…).
func ResolveFolder(root string, opts Options) (*Layout, error) {
	if st, err := os.Stat(filepath.Join(root, "dataset_dict.json")); err == nil && !st.IsDir() {
		return saveToDiskDict(root)
	}
	if st, err := os.Stat(filepath.Join(root, "state.json")); err == nil && !st.IsDir() {
		sp, err := saveToDiskState(root, "")
		if err != nil {
			return nil, err
		}
		return &Layout{Source: "save_to_disk", Splits: []Split{sp}}, nil
	}
	files, err := listFiles(root)
	if err != nil {
		return nil, err
	}
	readme := filepath.Join(root, "README.md")
	if b, err := readLimited(readme, maxReadmeBytes); err == nil {
		if fm, ok := frontMatter(string(b)); ok {
			doc, err := yamltext.Parse([]byte(fm))
			if err != nil {
				return nil, fmt.Errorf("datasets: %s: front matter: %w", readme, err)
			}
			if m, ok := doc.(map[string]any); ok && m["configs"] != nil {
				return readmeLayout(root, readme, m["configs"], files, opts.Config)
			}
		}
	}
	if opts.Config != "" {
		return nil, fmt.Errorf("datasets: %s: config %q asked for, but the folder's README.md declares no configs", root, opts.Config)
	}
	return conventionLayout(root, files)
}

// frontMatter returns the YAML between a leading "---" line and the next "---" (or "...")
// line of a README.md, as the Hub reads dataset cards (a byte-order mark, "\r\n" line ends and
// spaces after the delimiters are allowed), and whether there is one. The YAML comes with the
// opening "---" line left empty, so that its line numbers are the README's.
func frontMatter(readme string) (string, bool) {
	readme = strings.TrimPrefix(readme, "\ufeff")
	lines := strings.SplitAfter(readme, "\n")
	if len(lines) == 0 || strings.TrimRight(lines[0], "\r\n ") != "---" {
		return "", false
	}
	var b strings.Builder
	b.WriteString("\n")
	for _, l := range lines[1:] {
		t := strings.TrimRight(l, "\r\n ")
		if t == "---" || t == "..." {
			return b.String(), true
		}
		b.WriteString(l)
	}
	return "", false
}

// readLimited reads at most limit bytes of a file.
func readLimited(path string, limit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, min(st.Size(), limit))
	n, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) {
		return nil, err
	}
	return buf[:n], nil
}

// listFiles returns the regular files under root (following file symlinks, as in the
// huggingface_hub cache), as slash-separated relative paths, sorted, skipping hidden files
// and folders.
func listFiles(root string) ([]string, error) {
	var out []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if p == root {
			return nil
		}
		if strings.HasPrefix(d.Name(), ".") {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			st, err := os.Stat(p)
			if err != nil || !st.Mode().IsRegular() {
				return nil
			}
		} else if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		out = append(out, filepath.ToSlash(rel))
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", root, err)
	}
	sort.Strings(out)
	return out, nil
}

// readmeLayout interprets the configs list of a dataset card.
func readmeLayout(root, readme string, configs any, files []string, want string) (*Layout, error) {
	list, ok := configs.([]any)
	if !ok {
		return nil, fmt.Errorf("datasets: %s: configs is not a list", readme)
	}
	var names []string
	chosen := -1
	for i, c := range list {
		m, ok := c.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("datasets: %s: configs[%d] is not a mapping", readme, i)
		}
		name, _ := m["config_name"].(string)
		if name == "" {
			name = "default"
		}
		names = append(names, name)
		switch {
		case want != "" && name == want:
			chosen = i
		case want == "" && chosen < 0 && (m["default"] == "true" || name == "default"):
			chosen = i
		}
	}
	if want != "" && chosen < 0 {
		return nil, fmt.Errorf("datasets: %s: no config %q (available: %s)", readme, want, strings.Join(names, ", "))
	}
	if chosen < 0 {
		chosen = 0
	}
	if len(list) == 0 {
		return nil, fmt.Errorf("datasets: %s: configs is empty: %w", readme, ErrEmpty)
	}
	m := list[chosen].(map[string]any)
	dataDir, _ := m["data_dir"].(string)
	splits, err := dataFilesSplits(m["data_files"], readme)
	if err != nil {
		return nil, err
	}
	lay := &Layout{Source: "readme", Config: names[chosen], Configs: names}
	for _, sp := range splits {
		var matched []string
		seen := map[string]bool{}
		for _, pat := range sp.patterns {
			if dataDir != "" {
				pat = path.Join(dataDir, pat)
			}
			pat = strings.TrimPrefix(pat, "./")
			var hits []string
			for _, f := range files {
				if globMatch(pat, f) || (!hasGlobMeta(pat) && strings.HasPrefix(f, strings.TrimSuffix(pat, "/")+"/")) {
					hits = append(hits, f)
				}
			}
			if len(hits) == 0 {
				return nil, fmt.Errorf("datasets: %s: config %q: split %q: pattern %q matches no file: %w",
					readme, names[chosen], sp.name, pat, ErrEmpty)
			}
			for _, h := range hits {
				if !seen[h] {
					seen[h] = true
					matched = append(matched, h)
				}
			}
		}
		lay.Splits = append(lay.Splits, Split{Name: sp.name, Files: joinAll(root, matched)})
	}
	if len(lay.Splits) == 0 {
		return nil, fmt.Errorf("datasets: %s: config %q has no data_files: %w", readme, names[chosen], ErrEmpty)
	}
	return lay, nil
}

type splitPatterns struct {
	name     string
	patterns []string
}

// dataFilesSplits reads the data_files of a config in any of the forms the Hub accepts: a
// pattern, a list of patterns (split train), a list of {split, path} where path is a pattern
// or a list, or a mapping from split to pattern(s).
func dataFilesSplits(v any, readme string) ([]splitPatterns, error) {
	patterns := func(x any, what string) ([]string, error) {
		switch p := x.(type) {
		case string:
			return []string{p}, nil
		case []any:
			var out []string
			for _, e := range p {
				s, ok := e.(string)
				if !ok {
					return nil, fmt.Errorf("datasets: %s: %s: pattern is not a string", readme, what)
				}
				out = append(out, s)
			}
			return out, nil
		}
		return nil, fmt.Errorf("datasets: %s: %s: expected a pattern or a list of patterns", readme, what)
	}
	var out []splitPatterns
	add := func(name string, pats []string) {
		for i := range out {
			if out[i].name == name {
				out[i].patterns = append(out[i].patterns, pats...)
				return
			}
		}
		out = append(out, splitPatterns{name, pats})
	}
	switch d := v.(type) {
	case nil:
		return nil, nil
	case string:
		add("train", []string{d})
	case []any:
		for i, e := range d {
			switch x := e.(type) {
			case string:
				add("train", []string{x})
			case map[string]any:
				name, _ := x["split"].(string)
				if name == "" {
					name = "train"
				}
				pats, err := patterns(x["path"], fmt.Sprintf("data_files[%d].path", i))
				if err != nil {
					return nil, err
				}
				add(name, pats)
			default:
				return nil, fmt.Errorf("datasets: %s: data_files[%d] is neither a pattern nor {split, path}", readme, i)
			}
		}
	case map[string]any:
		keys := sortedKeys(d)
		slices.SortStableFunc(keys, func(a, b string) int { return splitRank(a) - splitRank(b) })
		for _, k := range keys {
			pats, err := patterns(d[k], "data_files."+k)
			if err != nil {
				return nil, err
			}
			add(k, pats)
		}
	default:
		return nil, fmt.Errorf("datasets: %s: data_files has an unexpected form", readme)
	}
	return out, nil
}

// splitRank orders the usual splits first.
func splitRank(name string) int {
	switch name {
	case "train":
		return 0
	case "validation":
		return 1
	case "test":
		return 2
	}
	return 3
}

func joinAll(root string, rel []string) []string {
	out := make([]string, len(rel))
	for i, r := range rel {
		out[i] = filepath.Join(root, filepath.FromSlash(r))
	}
	return out
}

// saveToDiskDict reads a DatasetDict.save_to_disk folder: dataset_dict.json lists the splits,
// each a folder with a state.json.
func saveToDiskDict(root string) (*Layout, error) {
	p := filepath.Join(root, "dataset_dict.json")
	b, err := readLimited(p, maxReadmeBytes)
	if err != nil {
		return nil, fmt.Errorf("datasets: %w", err)
	}
	var dd struct {
		Splits []string `json:"splits"`
	}
	if err := json.Unmarshal(b, &dd); err != nil {
		return nil, fmt.Errorf("datasets: %s: %w", p, err)
	}
	if len(dd.Splits) == 0 {
		return nil, fmt.Errorf("datasets: %s: no splits: %w", p, ErrEmpty)
	}
	lay := &Layout{Source: "save_to_disk"}
	for _, name := range dd.Splits {
		if name == "" || strings.ContainsAny(name, `/\`) || name == ".." || name == "." {
			return nil, fmt.Errorf("datasets: %s: bad split name %q", p, name)
		}
		sp, err := saveToDiskState(filepath.Join(root, name), name)
		if err != nil {
			return nil, err
		}
		lay.Splits = append(lay.Splits, sp)
	}
	return lay, nil
}

// saveToDiskState reads the state.json of a Dataset.save_to_disk folder.
func saveToDiskState(dir, name string) (Split, error) {
	p := filepath.Join(dir, "state.json")
	b, err := readLimited(p, maxReadmeBytes)
	if err != nil {
		return Split{}, fmt.Errorf("datasets: %w", err)
	}
	var st struct {
		DataFiles []struct {
			Filename string `json:"filename"`
		} `json:"_data_files"`
		Split *string `json:"_split"`
	}
	if err := json.Unmarshal(b, &st); err != nil {
		return Split{}, fmt.Errorf("datasets: %s: %w", p, err)
	}
	if name == "" {
		name = "train"
		if st.Split != nil && *st.Split != "" {
			name = *st.Split
		}
	}
	sp := Split{Name: name}
	for _, f := range st.DataFiles {
		if f.Filename == "" || strings.Contains(f.Filename, "..") || filepath.IsAbs(f.Filename) {
			return Split{}, fmt.Errorf("datasets: %s: bad data file name %q", p, f.Filename)
		}
		sp.Files = append(sp.Files, filepath.Join(dir, filepath.FromSlash(f.Filename)))
	}
	if len(sp.Files) == 0 {
		return Split{}, fmt.Errorf("datasets: %s: no _data_files: %w", p, ErrEmpty)
	}
	return sp, nil
}

var (
	// shardName matches data/{split}-00000-of-00002.ext, the layout push_to_hub writes.
	shardName = regexp.MustCompile(`^data/([A-Za-z0-9_.]+?)-[0-9]{5}-of-[0-9]{5}[-._]`)
	// splitKeywords maps words found in paths to split names, as huggingface datasets does.
	splitKeywords = map[string]string{
		"train": "train", "training": "train",
		"validation": "validation", "valid": "validation", "dev": "validation", "val": "validation",
		"test": "test", "testing": "test", "eval": "test", "evaluation": "test",
	}
	wordSplit = regexp.MustCompile(`[-._ 0-9/]+`)
)

// isDataFile reports whether a file name looks like data rather than metadata.
func isDataFile(rel string) bool {
	base := strings.ToLower(path.Base(rel))
	switch base {
	case "readme.md", "state.json", "dataset_info.json", "dataset_infos.json", "dataset_dict.json":
		return false
	}
	base = strings.TrimSuffix(base, ".gz")
	switch path.Ext(base) {
	case ".parquet", ".arrow", ".arrows", ".jsonl", ".ndjson", ".json", ".txt":
		return true
	}
	return false
}

// conventionLayout assigns data files to splits by name: first the push_to_hub shard naming
// (any split name), then split keywords in the path (train/training, validation/valid/dev/val,
// test/testing/eval/evaluation); when no file names a split, every file is "train".
func conventionLayout(root string, files []string) (*Layout, error) {
	var data []string
	for _, f := range files {
		if isDataFile(f) {
			data = append(data, f)
		}
	}
	if len(data) == 0 {
		return nil, fmt.Errorf("datasets: %s: no data files (.parquet, .arrow, .jsonl, .json, .txt): %w", root, ErrEmpty)
	}
	bySplit := map[string][]string{}
	for _, f := range data {
		if m := shardName.FindStringSubmatch(f); m != nil {
			bySplit[m[1]] = append(bySplit[m[1]], f)
		}
	}
	if len(bySplit) == 0 {
		for _, f := range data {
			for _, w := range wordSplit.Split(strings.ToLower(f), -1) {
				if s, ok := splitKeywords[w]; ok {
					bySplit[s] = append(bySplit[s], f)
					break
				}
			}
		}
	}
	if len(bySplit) == 0 {
		bySplit["train"] = data
	}
	names := make([]string, 0, len(bySplit))
	for n := range bySplit {
		names = append(names, n)
	}
	sort.Strings(names)
	slices.SortStableFunc(names, func(a, b string) int { return splitRank(a) - splitRank(b) })
	lay := &Layout{Source: "conventions"}
	for _, n := range names {
		lay.Splits = append(lay.Splits, Split{Name: n, Files: joinAll(root, bySplit[n])})
	}
	return lay, nil
}

// pickSplit returns the split named want, or "train", or the first.
func (l *Layout) pickSplit(root, want string) (Split, error) {
	if want == "" {
		for _, s := range l.Splits {
			if s.Name == "train" {
				return s, nil
			}
		}
		return l.Splits[0], nil
	}
	var names []string
	for _, s := range l.Splits {
		if s.Name == want {
			return s, nil
		}
		names = append(names, s.Name)
	}
	return Split{}, fmt.Errorf("datasets: %s: no split %q (available: %s)", root, want, strings.Join(names, ", "))
}

// openFolder opens the chosen split of a dataset folder as one reader over its shards.
func openFolder(root string, opts Options) (Reader, error) {
	lay, err := ResolveFolder(root, opts)
	if err != nil {
		return nil, err
	}
	sp, err := lay.pickSplit(root, opts.Split)
	if err != nil {
		return nil, err
	}
	return openShards(sp.Files, opts)
}
