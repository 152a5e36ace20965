package testfixtures

import (
	"os"
	"path/filepath"
	"testing"
)

func TestFind(t *testing.T) {
	dir, err := Find()
	if err != nil {
		t.Skip(err.Error())
	}
	if filepath.Base(dir) != "shared" {
		t.Fatalf("Find returned %s", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "main", "go.mod")); err != nil {
		// The repository may be cloned under another name; only the sibling relation matters.
		t.Logf("repository beside %s is not named main: %v", dir, err)
	}
}

func TestFindOutsideRepository(t *testing.T) {
	wd, _ := os.Getwd()
	t.Cleanup(func() { os.Chdir(wd) })
	if err := os.Chdir(t.TempDir()); err != nil {
		t.Fatal(err)
	}
	if _, err := Find(); err == nil {
		t.Fatal("Find succeeded outside any repository")
	}
}
