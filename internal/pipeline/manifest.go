package pipeline

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/mcompress/mcompress/internal/atomicfile"
)

// ManifestFile is the name of the manifest in the run folder.
const ManifestFile = "manifest.json"

// Step statuses in the manifest.
const (
	StatusDone       = "done"        // finished; its outputs are the recorded ones
	StatusGateFailed = "gate-failed" // an eval that finished with its report but failed a gate
	StatusFailed     = "failed"      // its command failed; rerun
)

// Manifest is RUN/manifest.json: what the run did, step by step.
type Manifest struct {
	Recipe string                 `json:"recipe"` // the recipe file, as given
	Steps  map[string]*StepRecord `json:"steps"`
}

// StepRecord is the manifest's entry of one step.
type StepRecord struct {
	Kind    string            `json:"kind"`
	Command []string          `json:"command"` // mcompress's arguments, paths relative to the run folder
	Inputs  map[string]string `json:"inputs"`  // input path (as in Command) -> content hash
	Tool    string            `json:"tool"`    // the version of mcompress that ran it
	Started string            `json:"started"` // RFC 3339
	Ended   string            `json:"ended,omitempty"`
	Status  string            `json:"status"`
	Error   string            `json:"error,omitempty"`
	Outputs map[string]string `json:"outputs,omitempty"` // path relative to the run folder -> sha256
}

// readManifest reads RUN/manifest.json; a missing file is an empty manifest.
func readManifest(path string) (*Manifest, error) {
	m := &Manifest{Steps: map[string]*StepRecord{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the manifest: %w", err)
	}
	if err := json.Unmarshal(b, m); err != nil {
		return nil, bad(fmt.Errorf("%s: not a pipeline manifest (%v); remove it to start the run afresh", path, err))
	}
	if m.Steps == nil {
		m.Steps = map[string]*StepRecord{}
	}
	return m, nil
}

// write replaces the manifest atomically.
func (m *Manifest) write(path string) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(path, append(b, '\n')); err != nil {
		return fmt.Errorf("writing the manifest: %w", err)
	}
	return nil
}

// hashFile returns the hex SHA-256 of a file's contents.
func hashFile(path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return "", fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashTree returns the content hash of path: a file's SHA-256, or for a folder the SHA-256 of
// its sorted list of files (slash-separated relative paths), each with its own hash, one
// "HASH  PATH" line per file as sha256sum prints.
func hashTree(path string) (string, error) {
	st, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if !st.IsDir() {
		return hashFile(path)
	}
	files, err := hashFiles(path)
	if err != nil {
		return "", err
	}
	h := sha256.New()
	for _, name := range sortedKeys(files) {
		fmt.Fprintf(h, "%s  %s\n", files[name], name)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// hashFiles returns the hash of every regular file under dir, keyed by its slash-separated path
// relative to dir.
func hashFiles(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.Type().IsRegular() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		h, err := hashFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = h
		return nil
	})
	return out, err
}

// sortedKeys returns m's keys, sorted.
func sortedKeys(m map[string]string) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
