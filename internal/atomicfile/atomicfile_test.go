package atomicfile

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCommitAndAbort(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "out.bin")

	f, err := Create(p)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("partial")
	f.Abort()
	if _, err := os.Stat(p); !os.IsNotExist(err) {
		t.Fatalf("aborted file exists: %v", err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("temporary files left behind: %v", ents)
	}

	if err := WriteFile(p, []byte("whole")); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(p)
	if err != nil || string(got) != "whole" {
		t.Fatalf("got %q, %v", got, err)
	}
	if ents, _ := os.ReadDir(dir); len(ents) != 1 {
		t.Fatalf("want only the output, got %v", ents)
	}
}

func TestRemovePending(t *testing.T) {
	dir := t.TempDir()
	f, err := Create(filepath.Join(dir, "x"))
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("data")
	f.Flush()
	RemovePending()
	if ents, _ := os.ReadDir(dir); len(ents) != 0 {
		t.Fatalf("pending temporary file not removed: %v", ents)
	}
	f.Abort()
}

func TestUnwritableFolder(t *testing.T) {
	if _, err := Create(filepath.Join(t.TempDir(), "missing", "x")); err == nil {
		t.Fatal("want error for a missing folder")
	}
}

func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	readOnly := filepath.Join(dir, "ro")
	if err := os.Mkdir(readOnly, 0o555); err != nil {
		t.Fatal(err)
	}
	canWriteRO := probe(readOnly) == nil // root ignores permission bits
	tests := []struct {
		name, path, wantErr string
	}{
		{"new file", filepath.Join(dir, "new.gguf"), ""},
		{"existing file", file, ""},
		{"existing folder", dir, "is a folder"},
		{"missing folder", filepath.Join(dir, "missing", "x.gguf"), "does not exist"},
		{"file as folder", filepath.Join(file, "x.gguf"), "is not a folder"},
		{"read-only folder", filepath.Join(readOnly, "x.gguf"), "not writable"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if tc.path == filepath.Join(readOnly, "x.gguf") && canWriteRO {
				t.Skip("running with permission to write anywhere")
			}
			err := CheckWritable(tc.path)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("CheckWritable(%s) = %v, want %q", tc.path, err, tc.wantErr)
			}
			if ents, _ := os.ReadDir(filepath.Dir(tc.path)); len(ents) > 0 {
				for _, e := range ents {
					if strings.HasPrefix(e.Name(), ".") {
						t.Errorf("probe left %s behind", e.Name())
					}
				}
			}
		})
	}
}

func TestCheckDir(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "file")
	if err := os.WriteFile(file, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name, path, wantErr string
	}{
		{"existing folder", dir, ""},
		{"new folder", filepath.Join(dir, "a", "b"), ""},
		{"a file", file, "is a file"},
		{"below a file", filepath.Join(file, "report"), "is a file"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := CheckDir(tc.path)
			if tc.wantErr == "" && err != nil || tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)) {
				t.Errorf("CheckDir(%s) = %v, want %q", tc.path, err, tc.wantErr)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "a")); err == nil {
		t.Error("CheckDir created a folder")
	}
}

func TestRemoveStale(t *testing.T) {
	dir := t.TempDir()
	target := filepath.Join(dir, "model.gguf")
	old := time.Now().Add(-2 * StaleAge)
	// A process id that is not running: one past the largest Linux allows.
	const deadPID = 4194305
	mk := func(name string, mtime time.Time) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Chtimes(p, mtime, mtime); err != nil {
			t.Fatal(err)
		}
		return p
	}
	tests := []struct {
		name    string
		file    string
		removed bool
	}{
		{"killed run", mk(fmt.Sprintf(".model.gguf.tmp-%d-123", deadPID), old), true},
		{"killed run, just now", mk(fmt.Sprintf(".model.gguf.tmp-%d-124", deadPID), time.Now()), false},
		{"live process", mk(fmt.Sprintf(".model.gguf.tmp-%d-125", os.Getppid()), old), false},
		{"this process", mk(fmt.Sprintf(".model.gguf.tmp-%d-126", os.Getpid()), old), false},
		{"other target", mk(fmt.Sprintf(".other.gguf.tmp-%d-127", deadPID), old), false},
		{"target's prefix only", mk(fmt.Sprintf(".model.gguf.tmp-%d", deadPID), old), false},
		{"not our pattern", mk(".model.gguf.tmp-abc-1", old), false},
		{"the target", mk("model.gguf", old), false},
	}
	f, err := Create(target) // a later run for the same target
	if err != nil {
		t.Fatal(err)
	}
	defer f.Abort()
	if !strings.HasPrefix(filepath.Base(f.tmp), fmt.Sprintf(".model.gguf.tmp-%d-", os.Getpid())) {
		t.Errorf("temporary file %s does not carry the process id", f.tmp)
	}
	for _, tc := range tests {
		_, err := os.Stat(tc.file)
		if gone := errors.Is(err, os.ErrNotExist); gone != tc.removed {
			t.Errorf("%s: removed %v, want %v", tc.name, gone, tc.removed)
		}
	}
}
