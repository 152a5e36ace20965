package eval

import (
	"context"
	"fmt"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/internal/parallel"
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

// sessionBudget bounds the memory that extra sessions (side-by-side chunks or examples) may
// take: enough for many sessions of a small model, none for a large model with a long context,
// whose matrix products keep every core busy anyway.
const sessionBudget = 1 << 30

// sessionBytes estimates one session's memory for ctxLen positions: runtime's estimate (KV
// cache and the activations of a full batch) and the logits of every position, which the
// chunks keep.
func sessionBytes(cfg convert.Config, ctxLen int) int64 {
	return runtime.SessionBytes(cfg, ctxLen) + int64(ctxLen)*int64(cfg.VocabSize)*4
}

// parallelSessions returns how many sessions of ctxLen positions to run side by side for n
// independent pieces of work: one per thread, at most n, within sessionBudget (at least one).
func parallelSessions(m *runtime.Model, ctxLen, n int) int {
	return sessionSlots(m.Config(), m.Threads(), ctxLen, n)
}

// sessionSlots is parallelSessions for a configuration and a thread count.
func sessionSlots(cfg convert.Config, threads, ctxLen, n int) int {
	return max(1, min(threads, n, int(sessionBudget/max(1, sessionBytes(cfg, ctxLen)))))
}

// newChunkRunner makes one session per slot (see parallelSessions).
func newChunkRunner(m *runtime.Model, c chunking, batchSize int) (*chunkRunner, error) {
	slots := parallelSessions(m, c.nctx, c.n)
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
		parallel.Split(n, n, func(k, _, _ int) { one(k) })
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
