package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"
)

// reporter shows progress of long work: a bar on a terminal, plain log lines otherwise, nothing
// with --quiet or --json. It is safe for concurrent use.
type reporter struct {
	mu      sync.Mutex
	w       io.Writer
	enabled bool
	tty     bool
	bar     *progressbar.ProgressBar
	desc    string
	total   int64
	last    time.Time
	lastPct int
}

// newReporter returns a reporter for the command's global options, writing to stderr.
func newReporter(g *globalOptions) *reporter {
	return &reporter{
		w:       os.Stderr,
		enabled: !g.quiet && !g.json,
		tty:     term.IsTerminal(int(os.Stderr.Fd())),
	}
}

// Logf prints one log line unless quiet.
func (r *reporter) Logf(format string, args ...any) {
	if r == nil || !r.enabled {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar != nil {
		_ = r.bar.Clear()
	}
	fmt.Fprintf(r.w, format+"\n", args...)
}

// Start begins a task of total units (bytes when bytes is true).
func (r *reporter) Start(desc string, total int64, bytes bool) {
	if r == nil || !r.enabled {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.desc, r.total, r.last, r.lastPct = desc, total, time.Now(), -1
	if r.tty {
		opts := []progressbar.Option{
			progressbar.OptionSetWriter(r.w),
			progressbar.OptionSetDescription(desc),
			progressbar.OptionShowCount(),
			progressbar.OptionSetWidth(30),
			progressbar.OptionThrottle(100 * time.Millisecond),
			progressbar.OptionClearOnFinish(),
			progressbar.OptionShowElapsedTimeOnFinish(),
		}
		if bytes {
			opts = append(opts, progressbar.OptionShowBytes(true))
		}
		r.bar = progressbar.NewOptions64(total, opts...)
	} else {
		fmt.Fprintf(r.w, "%s: started\n", desc)
	}
}

// Update sets the progress to done units of the current task.
func (r *reporter) Update(done int64) {
	if r == nil || !r.enabled {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar != nil {
		_ = r.bar.Set64(done)
		return
	}
	if r.total <= 0 {
		return
	}
	pct := int(done * 100 / r.total)
	if pct/10 != r.lastPct/10 || time.Since(r.last) > 10*time.Second {
		if pct == r.lastPct {
			return
		}
		r.lastPct, r.last = pct, time.Now()
		fmt.Fprintf(r.w, "%s: %d%% (%d/%d)\n", r.desc, pct, done, r.total)
	}
}

// Describe changes the label of the current task (the bar's description or the log prefix).
func (r *reporter) Describe(desc string) {
	if r == nil || !r.enabled {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.desc = desc
	if r.bar != nil {
		r.bar.Describe(desc)
	}
}

// Finish ends the current task.
func (r *reporter) Finish() {
	if r == nil || !r.enabled {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.bar != nil {
		_ = r.bar.Finish()
		r.bar = nil
		return
	}
	fmt.Fprintf(r.w, "%s: done\n", r.desc)
}

// printJSON writes v as indented JSON to stdout.
func printJSON(v any) error {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false) // type names such as list<struct<...>> stay readable
	return enc.Encode(v)
}
