package eval

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/mcompress/mcompress/internal/parallel"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// ScoreOptions control ScoreTask.
type ScoreOptions struct {
	// MaxLength is the most tokens one request may use (longer ones lose tokens on the left,
	// as lm-evaluation-harness truncates); 0 means the model's context length, at most 2048.
	MaxLength int
	// NoBOS leaves out the BOS token that is otherwise put before every request when the
	// model's vocabulary adds one (as llama.cpp's scorers and the harness's GGUF backends do).
	NoBOS bool
	// Progress, when not nil, is called after each example.
	Progress func(done, total int64)
}

// TaskResult holds lm-evaluation-harness's multiple-choice metrics for one task.
type TaskResult struct {
	Name     string     `json:"name"`
	Path     string     `json:"path"`
	Layout   TaskLayout `json:"layout"`
	Examples int        `json:"examples"`
	// Acc is the fraction of examples whose highest-log-likelihood choice is the gold one;
	// AccNorm the same with each log-likelihood divided by the choice's length in characters.
	Acc           float64 `json:"acc"`
	AccStderr     float64 `json:"acc_stderr"`
	AccNorm       float64 `json:"acc_norm"`
	AccNormStderr float64 `json:"acc_norm_stderr"`
	Seconds       float64 `json:"seconds"`
}

// ChoiceScore is the scoring of one choice.
type ChoiceScore struct {
	// LogLikelihood is the sum of the log-probabilities of the continuation's tokens.
	LogLikelihood float64
	// Tokens is the number of continuation tokens; Greedy tells whether each was the argmax.
	Tokens int
	Greedy bool
}

// scorer evaluates (context, continuation) requests on one session.
type scorer struct {
	m      *runtime.Model
	tok    *tokenizer.Tokenizer
	s      *runtime.Session
	prefix []int32
	maxLen int
	vocab  int
}

func newScorer(m *runtime.Model, o ScoreOptions) (*scorer, error) {
	tok, err := tokenizer.FromGGUF(m.Metadata())
	if err != nil {
		return nil, bad(fmt.Errorf("eval: %w", err))
	}
	maxLen := o.MaxLength
	if maxLen <= 0 {
		maxLen = m.Config().ContextLength
		if maxLen <= 0 || maxLen > 2048 {
			maxLen = 2048
		}
	}
	s, err := m.NewSession(maxLen)
	if err != nil {
		return nil, adopt(fmt.Errorf("eval: %w", err))
	}
	sc := &scorer{m: m, tok: tok, s: s, maxLen: maxLen, vocab: m.Config().VocabSize}
	if !o.NoBOS && tok.AddBOS() && tok.BOS() >= 0 {
		sc.prefix = []int32{tok.BOS()}
	}
	return sc, nil
}

func (sc *scorer) encode(s string) ([]int32, error) {
	return sc.tok.Encode(s, tokenizer.EncodeOptions{})
}

// encodePair splits the tokens of context+continuation as lm-evaluation-harness's
// _encode_pair: trailing whitespace of the context moves to the continuation, and the
// continuation's tokens are those of the whole string after the context's own tokens.
func (sc *scorer) encodePair(ctx, cont string) (ctxEnc, contEnc []int32, err error) {
	trimmed := strings.TrimRightFunc(ctx, isPySpace)
	if n := len(ctx) - len(trimmed); n > 0 {
		cont = ctx[len(trimmed):] + cont
		ctx = trimmed
	}
	whole, err := sc.encode(ctx + cont)
	if err != nil {
		return nil, nil, err
	}
	if ctx != "" {
		if ctxEnc, err = sc.encode(ctx); err != nil {
			return nil, nil, err
		}
	}
	if len(ctxEnc) > len(whole) {
		return ctxEnc, nil, nil
	}
	return ctxEnc, whole[len(ctxEnc):], nil
}

// isPySpace reports the characters Python's str.rstrip() removes.
func isPySpace(r rune) bool {
	switch r {
	case ' ', '\t', '\n', '\v', '\f', '\r', 0x1c, 0x1d, 0x1e, 0x1f, 0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000:
		return true
	}
	return r >= 0x2000 && r <= 0x200a
}

// scoreExample returns the score of every choice of ex.
func (sc *scorer) scoreExample(ex *Example) ([]ChoiceScore, error) {
	out := make([]ChoiceScore, len(ex.Choices))
	var cachedPrefix []int32 // the request prefix whose last-row logits are in lastRow
	var lastRow []float32
	for i, choice := range ex.Choices {
		ctxEnc, contEnc, err := sc.encodePair(ex.Context, TargetDelimiter+choice)
		if err != nil {
			return nil, err
		}
		if len(contEnc) == 0 {
			return nil, bad(fmt.Errorf("choice %d %q has no tokens of its own after the context", i, choice))
		}
		pre := append(append([]int32{}, sc.prefix...), ctxEnc...)
		if len(pre) == 0 {
			// The harness puts its prefix token (EOT) before an empty context.
			pre = []int32{sc.tok.EOS()}
		}
		whole := append(append([]int32{}, pre...), contEnc...)
		if len(whole)-1 > sc.maxLen {
			// Left truncation: the last maxLen+1 tokens, the final one not evaluated.
			whole = whole[len(whole)-1-sc.maxLen:]
			if len(contEnc) > len(whole)-1 {
				contEnc = contEnc[len(contEnc)-(len(whole)-1):]
			}
			logits, err := sc.s.Forward(whole[:len(whole)-1], 0, true)
			if err != nil {
				return nil, err
			}
			first := len(whole) - 1 - len(contEnc)
			out[i] = sc.sum(logits[first*sc.vocab:], contEnc)
			cachedPrefix = nil
			continue
		}
		if !equalTokens(cachedPrefix, pre) {
			lastRow, err = sc.s.Forward(pre, 0, false)
			if err != nil {
				return nil, err
			}
			cachedPrefix = pre
		}
		rows := lastRow
		if len(contEnc) > 1 {
			tail, err := sc.s.Forward(contEnc[:len(contEnc)-1], len(pre), true)
			if err != nil {
				return nil, err
			}
			rows = append(append(make([]float32, 0, len(contEnc)*sc.vocab), lastRow...), tail...)
		}
		out[i] = sc.sum(rows, contEnc)
	}
	return out, nil
}

// sum adds the log-probabilities of toks, row r of logits predicting toks[r].
func (sc *scorer) sum(logits []float32, toks []int32) ChoiceScore {
	cs := ChoiceScore{Tokens: len(toks), Greedy: true}
	for r, t := range toks {
		row := logits[r*sc.vocab : (r+1)*sc.vocab]
		cs.LogLikelihood -= rowNLL(row, t)
		best := 0
		for j, v := range row {
			if v > row[best] {
				best = j
			}
		}
		if int32(best) != t {
			cs.Greedy = false
		}
	}
	return cs
}

func equalTokens(a, b []int32) bool {
	if len(a) != len(b) || a == nil {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// argmax returns the index of the first largest value (numpy's argmax).
func argmax(xs []float64) int {
	best := 0
	for i, x := range xs {
		if x > xs[best] {
			best = i
		}
	}
	return best
}

// ScoreTask scores every example of t with model m as lm-evaluation-harness scores
// multiple-choice tasks: each choice's log-likelihood as a continuation of the context (after
// the target delimiter " "), acc from the largest log-likelihood and acc_norm from the largest
// log-likelihood per character of the choice, with the standard errors of their means.
func ScoreTask(ctx context.Context, m *runtime.Model, t *Task, o ScoreOptions) (*TaskResult, error) {
	sc, err := newScorer(m, o)
	if err != nil {
		return nil, err
	}
	// Examples are independent, so they are spread over one session per thread (a small
	// model's matrix products are too short to keep every core busy); each example's result
	// goes to its own slot, so the outcome does not depend on the thread count.
	scorers := []*scorer{sc}
	for range parallelSessions(m, sc.maxLen, len(t.Examples)) - 1 {
		s, err := m.NewSession(sc.maxLen)
		if err != nil {
			return nil, fmt.Errorf("eval: %w", err)
		}
		c := *sc
		c.s = s
		scorers = append(scorers, &c)
	}
	start := time.Now()
	accs := make([]float64, len(t.Examples))
	norms := make([]float64, len(t.Examples))
	errs := make([]error, len(t.Examples))
	var failed atomic.Bool
	var mu sync.Mutex
	done := 0
	parallel.For(len(scorers), len(t.Examples), func(w, i int) {
		if failed.Load() || ctx.Err() != nil {
			return
		}
		sc := scorers[w]
		ex := &t.Examples[i]
		scores, err := sc.scoreExample(ex)
		if err != nil {
			errs[i] = fmt.Errorf("eval: task %s: %s row %d: %w", t.Name, ex.Source, ex.Row, err)
			failed.Store(true) // stop the others
			return
		}
		lls := make([]float64, len(scores))
		for j, s := range scores {
			lls[j] = s.LogLikelihood
		}
		pred, predNorm := predict(lls, ex.Choices)
		if pred == ex.Gold {
			accs[i] = 1
		}
		if predNorm == ex.Gold {
			norms[i] = 1
		}
		if o.Progress != nil {
			mu.Lock()
			done++
			o.Progress(int64(done), int64(len(t.Examples)))
			mu.Unlock()
		}
	})
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	r := &TaskResult{Name: t.Name, Path: t.Path, Layout: t.Layout, Examples: len(t.Examples), Seconds: time.Since(start).Seconds()}
	r.Acc, r.AccStderr = mean(accs), sampleStderr(accs)
	r.AccNorm, r.AccNormStderr = mean(norms), sampleStderr(norms)
	return r, nil
}

func mean(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	return s / float64(len(xs))
}

// predict returns the choice with the largest log-likelihood (acc) and the one with the
// largest log-likelihood per character of the choice string (acc_norm), first on ties, as
// lm-evaluation-harness's multiple-choice process_results (np.argmax). A choice of no
// characters counts as one.
func predict(lls []float64, choices []string) (pred, predNorm int) {
	normed := make([]float64, len(lls))
	for j, ll := range lls {
		normed[j] = ll / float64(max(1, utf8.RuneCountInString(choices[j])))
	}
	return argmax(lls), argmax(normed)
}
