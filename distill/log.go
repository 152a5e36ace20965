package distill

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"

	"github.com/mcompress/mcompress/internal/atomicfile"
)

// jsonLog appends one JSON object per line to the training log (train.jsonl): a line per step
// with the step, learning rate, loss terms, gradient norm, tokens and speed, and a line per
// validation. Keys are sorted, so lines of identical runs differ only in timings.
type jsonLog struct {
	f   *os.File
	err error
}

// openJSONLog opens path for appending after dropping the lines of steps after keep (the steps
// a resumed run will do again). keep 0 starts a new log.
func openJSONLog(path string, keep int) (*jsonLog, error) {
	var kept []byte
	if keep > 0 {
		old, err := os.ReadFile(path)
		if err != nil && !os.IsNotExist(err) {
			return nil, fmt.Errorf("distill: training log: %w", err)
		}
		sc := bufio.NewScanner(bytes.NewReader(old))
		sc.Buffer(make([]byte, 1<<16), 1<<24)
		for sc.Scan() {
			var rec struct {
				Step *int `json:"step"`
			}
			if json.Unmarshal(sc.Bytes(), &rec) != nil || rec.Step == nil || *rec.Step > keep {
				continue
			}
			kept = append(kept, sc.Bytes()...)
			kept = append(kept, '\n')
		}
	}
	if err := atomicfile.WriteFile(path, kept); err != nil {
		return nil, badInputf("training log: %v", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return nil, badInputf("training log: %v", err)
	}
	return &jsonLog{f: f}, nil
}

// write appends rec as one line; the first error is kept and reported by close.
func (l *jsonLog) write(rec map[string]any) {
	if l.err != nil {
		return
	}
	b, err := json.Marshal(rec)
	if err != nil {
		l.err = err
		return
	}
	_, l.err = l.f.Write(append(b, '\n'))
}

func (l *jsonLog) close() error {
	err := l.f.Close()
	if l.err != nil {
		return l.err
	}
	return err
}
