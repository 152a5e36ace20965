package eval

import (
	"context"
	"fmt"
	"sync"

	"github.com/mcompress/mcompress/runtime"
)

// chunkRunner evaluates chunks on several sessions of one model at once. On small models a
// chunk's matrix products are too short to keep every core busy (handing work to a parked
// worker costs as much as the work), so chunks themselves run side by side, one per slot; the
// results are combined in chunk order, so they do not depend on the number of slots.
type chunkRunner struct {
	m        *runtime.Model
	c        chunking
	bos      int32
	sessions []*runtime.Session
	bufs     [][]int32
	// rowThreads is how many goroutines score one chunk's rows.
	rowThreads int
}

// newChunkRunner makes one session per slot: min(threads, chunks) slots.
func newChunkRunner(m *runtime.Model, c chunking, batchSize int) (*chunkRunner, error) {
	slots := max(1, min(m.Threads(), c.n))
	r := &chunkRunner{m: m, c: c, bos: chunkBOS(m), rowThreads: max(1, m.Threads()/slots)}
	for range slots {
		s, err := m.NewSession(c.nctx)
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		s.BatchSize = batchSize
		r.sessions = append(r.sessions, s)
		r.bufs = append(r.bufs, make([]int32, 0, c.nctx))
	}
	return r, nil
}

// slots returns the number of chunks evaluated at once.
func (r *chunkRunner) slots() int { return len(r.sessions) }

// run evaluates chunks 0..c.n-1, whose tokens chunk(i) returns. prepare(slot, i), when not
// nil, runs first on the calling goroutine in chunk order (to read per-chunk input);
// score(slot, i, logits) runs on the chunk's goroutine with the logits of its scored rows (see
// chunkLogits) and must write only to the slot's own state; emit(slot, i) then runs on the
// calling goroutine, in chunk order.
func (r *chunkRunner) run(ctx context.Context, chunk func(i int) []int32, prepare func(slot, i int) error, score func(slot, i int, logits []float32), emit func(slot, i int) error) error {
	errs := make([]error, r.slots())
	for i0 := 0; i0 < r.c.n; i0 += r.slots() {
		if err := ctx.Err(); err != nil {
			return err
		}
		n := min(r.slots(), r.c.n-i0)
		if prepare != nil {
			for k := range n {
				if err := prepare(k, i0+k); err != nil {
					return err
				}
			}
		}
		one := func(k int) {
			i := i0 + k
			logits, err := chunkLogits(r.sessions[k], chunk(i), r.bos, r.c, r.bufs[k])
			if err != nil {
				errs[k] = fmt.Errorf("eval: chunk %d: %w", i, err)
				return
			}
			errs[k] = nil
			score(k, i, logits)
		}
		var wg sync.WaitGroup
		for k := 1; k < n; k++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				one(k)
			}()
		}
		one(0)
		wg.Wait()
		for k := range n {
			if errs[k] != nil {
				return errs[k]
			}
			if err := emit(k, i0+k); err != nil {
				return err
			}
		}
	}
	return nil
}
