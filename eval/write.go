package eval

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// ReportFiles are the files WriteReport creates in the report folder.
var ReportFiles = []string{"report.json", "report.md", "report.html"}

// WriteReport writes report.json, report.md and report.html into dir, all or nothing: the
// files are rendered in memory and written to a staging folder first; a dir that does not
// exist is created by renaming the staging folder, and in an existing dir the files are renamed
// into place (and removed again if a rename fails).
func WriteReport(dir string, r *Report) error {
	js, err := r.JSON()
	if err != nil {
		return err
	}
	contents := [][]byte{js, r.Markdown(), r.HTML()}
	dir = filepath.Clean(dir)
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("eval: report folder: %w", err)
	}
	st, statErr := os.Stat(dir)
	exists := statErr == nil
	if exists && !st.IsDir() {
		return fmt.Errorf("eval: report folder %s is a file", dir)
	}
	stageParent := parent
	if exists {
		stageParent = dir
	}
	stage, err := os.MkdirTemp(stageParent, "."+filepath.Base(dir)+".tmp-*")
	if err != nil {
		return fmt.Errorf("eval: report folder: %w", err)
	}
	defer os.RemoveAll(stage)
	for i, name := range ReportFiles {
		if err := os.WriteFile(filepath.Join(stage, name), contents[i], 0o644); err != nil {
			return fmt.Errorf("eval: writing the report: %w", err)
		}
	}
	if !exists {
		if err := os.Chmod(stage, 0o755); err != nil {
			return fmt.Errorf("eval: report folder: %w", err)
		}
		if err := os.Rename(stage, dir); err != nil {
			return fmt.Errorf("eval: creating the report folder %s: %w", dir, err)
		}
		return nil
	}
	var done []string
	for _, name := range ReportFiles {
		dst := filepath.Join(dir, name)
		if err := os.Rename(filepath.Join(stage, name), dst); err != nil {
			for _, d := range done {
				os.Remove(d)
			}
			return errors.Join(fmt.Errorf("eval: writing the report into %s: %w", dir, err))
		}
		done = append(done, dst)
	}
	return nil
}
