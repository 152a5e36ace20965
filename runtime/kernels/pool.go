package kernels

import (
	"runtime"
	"sync"

	"github.com/mcompress/mcompress/internal/parallel"
)

// Pool runs loops over a fixed number of worker goroutines. The zero value and a nil *Pool run
// everything on the calling goroutine. A Pool is safe for concurrent use.
type Pool struct {
	n     int
	tasks chan *task
	once  sync.Once
}

type task struct {
	fn     func(lo, hi int)
	chunks parallel.Chunks
	wg     sync.WaitGroup
}

// NewPool returns a pool of n workers; n <= 0 means one per CPU (runtime.GOMAXPROCS).
func NewPool(n int) *Pool {
	if n <= 0 {
		n = runtime.GOMAXPROCS(0)
	}
	return &Pool{n: n}
}

// Threads returns the number of workers (1 for a nil pool).
func (p *Pool) Threads() int {
	if p == nil || p.n < 1 {
		return 1
	}
	return p.n
}

func (p *Pool) start() {
	p.tasks = make(chan *task, p.n)
	for range p.n - 1 {
		go func() {
			for t := range p.tasks {
				t.run()
				t.wg.Done()
			}
		}()
	}
}

func (t *task) run() {
	for {
		lo, hi, ok := t.chunks.Next()
		if !ok {
			return
		}
		t.fn(lo, hi)
	}
}

// For calls fn over [0, n) split into ranges of at least minChunk items, spread over the
// workers, and returns when all calls have returned. Ranges are disjoint, so fn may write to
// per-index outputs without locks; which worker handles which range varies, so fn must not
// depend on it. The ranges are handed out by internal/parallel's Chunks and callers follow its
// determinism contract, with one difference from parallel.Range: the range size grows with n
// and shrinks with the worker count, so fn must write per-index results only and never sum
// across a range. The loop is not parallel.Range itself because the workers are persistent:
// starting goroutines per call costs more than the 2^20 multiply-adds of a small task.
func (p *Pool) For(n, minChunk int, fn func(lo, hi int)) {
	if n <= 0 {
		return
	}
	workers := p.Threads()
	minChunk = max(minChunk, 1)
	if workers == 1 || n <= minChunk {
		fn(0, n)
		return
	}
	p.once.Do(p.start)
	// About four ranges per worker balances uneven speeds without much overhead.
	chunk := max(minChunk, (n+4*workers-1)/(4*workers))
	t := &task{fn: fn}
	t.chunks.Reset(n, chunk)
	helpers := min(workers-1, parallel.NumChunks(n, chunk)-1)
	t.wg.Add(helpers)
	for range helpers {
		p.tasks <- t
	}
	t.run()
	t.wg.Wait()
}

// taskWork is the least work (multiply-adds, or element operations) worth a task of its own.
// Handing a range to a parked worker costs tens of microseconds on a virtual machine (the
// futex wake-up of its thread, then the wait for the last helper), about what 2^20
// multiply-adds take on one core; with 2^18, generation on a 4M-parameter model ran 10 to 40%
// slower on two threads than on one. Matrices of a 1B model still split into many tasks.
const taskWork = 1 << 20

// ChunkFor returns the minimum chunk to give For for items that cost work units each (a
// multiply-add or an element operation being one unit), so that every task has about
// 2^20 units of work or more.
func ChunkFor(work int) int { return max(1, taskWork/max(work, 1)) }

// Close stops the workers. The pool must not be used afterwards.
func (p *Pool) Close() {
	if p == nil {
		return
	}
	p.once.Do(func() {})
	if p.tasks != nil {
		close(p.tasks)
	}
}
