package atomicfile

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// StaleAge is how long a temporary file must have gone unmodified before RemoveStale takes it
// for abandoned (besides its owner process being gone). A writer on another machine sharing
// the folder, whose process id means nothing here, keeps its file's modification time fresh.
var StaleAge = time.Minute

// tempPrefix is the start of the names of the temporary files that process pid creates for
// path: ".NAME.tmp-PID-".
func tempPrefix(path string, pid int) string {
	return "." + filepath.Base(path) + ".tmp-" + strconv.Itoa(pid) + "-"
}

// RemoveStale deletes the temporary files that earlier runs writing path left beside it when
// they were killed (SIGKILL, a crash, a power cut) before they could clean up. A file is
// removed only when all of these hold, so that a write in progress is never touched:
//
//   - its name has Create's pattern for this very path, ".NAME.tmp-PID-RANDOM";
//   - PID is not this process and no process with that id is running on this machine;
//   - it is a regular file not modified in the last StaleAge.
//
// Errors are ignored: cleaning up is a courtesy, and the new write does not depend on it. On
// systems where a process cannot be probed by id, nothing is removed.
func RemoveStale(path string) {
	dir := filepath.Dir(path)
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	prefix := "." + filepath.Base(path) + ".tmp-"
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix)
		if !ok || !e.Type().IsRegular() {
			continue
		}
		pidStr, random, ok := strings.Cut(rest, "-")
		if !ok || random == "" {
			continue
		}
		pid, err := strconv.Atoi(pidStr)
		if err != nil || pid <= 0 || pid == os.Getpid() || processAlive(pid) {
			continue
		}
		info, err := e.Info()
		if err != nil || time.Since(info.ModTime()) < StaleAge {
			continue
		}
		os.Remove(filepath.Join(dir, e.Name()))
	}
}
