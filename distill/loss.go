package distill

import (
	"fmt"
	"math"
	"strings"

	"github.com/mcompress/mcompress/distill/autograd"
	"github.com/mcompress/mcompress/internal/parallel"
)

// Divergence selects the direction of the distillation KL.
type Divergence int

const (
	// ForwardKL is KL(p_teacher ‖ p_student), mean-seeking: the student covers every token the
	// teacher finds plausible. The usual choice (Hinton et al.).
	ForwardKL Divergence = iota
	// ReverseKL is KL(p_student ‖ p_teacher), mode-seeking (MiniLLM).
	ReverseKL
)

// String returns "forward" or "reverse".
func (d Divergence) String() string {
	if d == ReverseKL {
		return "reverse"
	}
	return "forward"
}

// ParseDivergence parses "forward" (or "fkl", "kl") and "reverse" (or "rkl").
func ParseDivergence(s string) (Divergence, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "forward", "fkl", "kl", "forward-kl":
		return ForwardKL, nil
	case "reverse", "rkl", "reverse-kl":
		return ReverseKL, nil
	}
	return 0, fmt.Errorf("unknown divergence %q (want forward or reverse)", s)
}

// TopKMode says how a loss on the teacher's top-k log-probabilities treats the rest of the
// vocabulary.
type TopKMode int

const (
	// TopKTail (the default) compares k+1 categories: the k tokens and one tail bucket holding
	// all the remaining probability, on both sides. At temperature 1 this is exactly the KL
	// between the two distributions coarsened to those categories, so the student is also
	// taught how much mass lies outside the teacher's top k.
	TopKTail TopKMode = iota
	// TopKRenorm renormalises both distributions over the k tokens alone and ignores the rest.
	TopKRenorm
)

// String returns "tail" or "renorm".
func (m TopKMode) String() string {
	if m == TopKRenorm {
		return "renorm"
	}
	return "tail"
}

// ParseTopKMode parses "tail" and "renorm".
func ParseTopKMode(s string) (TopKMode, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "tail":
		return TopKTail, nil
	case "renorm", "renormalized", "renormalised":
		return TopKRenorm, nil
	}
	return 0, fmt.Errorf("unknown top-k mode %q (want tail or renorm)", s)
}

// LossOptions define the distillation loss
//
//	loss = Alpha · T² · KL(p_teacher^T ‖ p_student^T) + (1 − Alpha) · CE(student),
//
// p^T = softmax(logits / T), the KL summed over the vocabulary and averaged over positions
// (reversed for ReverseKL), CE the next-token cross-entropy at temperature 1. Alpha 0 is plain
// cross-entropy training (no teacher needed).
type LossOptions struct {
	Divergence  Divergence
	Alpha       float64
	Temperature float64 // 0 means 1
	TopKMode    TopKMode
}

func (o LossOptions) temperature() float64 {
	if o.Temperature == 0 {
		return 1
	}
	return o.Temperature
}

// Validate reports an option out of range.
func (o LossOptions) Validate() error {
	switch {
	case math.IsNaN(o.Alpha) || o.Alpha < 0 || o.Alpha > 1:
		return fmt.Errorf("alpha %g must be in [0, 1]", o.Alpha)
	case math.IsNaN(o.Temperature) || o.Temperature < 0 || math.IsInf(o.Temperature, 0):
		return fmt.Errorf("temperature %g must be positive", o.Temperature)
	}
	return nil
}

// LossParts are the values of a loss and its terms.
type LossParts struct {
	Loss float64 // the value minimised
	KL   float64 // the divergence (before the α·T² weight); 0 without a teacher
	CE   float64 // the student's next-token cross-entropy
}

// nextTokenTargets returns, for batch sequences of seq tokens, the target of every position:
// the next token of the same sequence, or ignoreIndex for the last position. skip marks those
// last positions (the KL leaves them out too, so every term averages over the same rows).
func nextTokenTargets(ids []int32, batch, seq int) (targets []int32, skip []bool) {
	targets = make([]int32, len(ids))
	skip = make([]bool, len(ids))
	for b := 0; b < batch; b++ {
		for t := 0; t < seq; t++ {
			i := b*seq + t
			if t == seq-1 {
				targets[i], skip[i] = ignoreIndex, true
			} else {
				targets[i] = ids[i+1]
			}
		}
	}
	return targets, skip
}

// ignoreIndex marks positions without a target (PyTorch's convention).
const ignoreIndex = -100

// lossFull records the loss of logits against full teacher logits (nil: cross-entropy only) and
// returns the scalar to differentiate.
func lossFull(tp *Tape, logits, teacher *Tensor, targets []int32, skip []bool, o LossOptions) (*Tensor, LossParts, error) {
	T := o.temperature()
	var parts LossParts
	var loss *Tensor
	if o.Alpha > 0 {
		if teacher == nil {
			return nil, parts, fmt.Errorf("distill: loss: alpha %g needs teacher logits", o.Alpha)
		}
		kl := autograd.KLDiv(tp, logits, teacher, autograd.KLDivOptions{Temperature: T, Reverse: o.Divergence == ReverseKL, IgnoreRows: skip})
		if kl != nil {
			parts.KL = kl.Item()
		}
		loss = autograd.Scale(tp, kl, o.Alpha*T*T)
	}
	return addCE(tp, loss, logits, targets, o, parts)
}

// addCE adds (1 − α)·CE to loss (nil: none yet) and fills parts.
func addCE(tp *Tape, loss, logits *Tensor, targets []int32, o LossOptions, parts LossParts) (*Tensor, LossParts, error) {
	T := o.temperature()
	if o.Alpha < 1 {
		ce := autograd.CrossEntropy(tp, logits, targets, ignoreIndex)
		if ce != nil {
			parts.CE = ce.Item()
		}
		term := ce
		if o.Alpha != 0 {
			term = autograd.Scale(tp, ce, 1-o.Alpha)
		}
		if loss == nil {
			loss = term
		} else {
			loss = autograd.Add(tp, loss, term)
		}
	} else if logits != nil && tp.Err() == nil {
		parts.CE = meanCE(logits, targets, tp.Threads)
	}
	if err := tp.Err(); err != nil {
		return nil, parts, fmt.Errorf("distill: loss: %w", err)
	}
	parts.Loss = o.Alpha*T*T*parts.KL + (1-o.Alpha)*parts.CE
	return loss, parts, nil
}

// meanCE computes the mean next-token cross-entropy of logits without recording anything.
func meanCE(logits *Tensor, targets []int32, threads int) float64 {
	v := logits.Shape[len(logits.Shape)-1]
	rows := len(logits.Data) / v
	per := make([]float64, rows)
	parallel.Range(threads, rows, 16, func(_, lo, hi int) {
		for r := lo; r < hi; r++ {
			if targets[r] == ignoreIndex {
				continue
			}
			z := logits.Data[r*v : (r+1)*v]
			per[r] = logSumExp32(z, 1) - float64(z[targets[r]])
		}
	})
	s, n := 0.0, 0
	for r, x := range per {
		if targets[r] != ignoreIndex {
			s += x
			n++
		}
	}
	if n == 0 {
		return 0
	}
	return s / float64(n)
}

// logSumExp32 returns log Σ exp(z·inv), accumulated in float64.
func logSumExp32(z []float32, inv float64) float64 {
	m := math.Inf(-1)
	for _, x := range z {
		m = math.Max(m, float64(x)*inv)
	}
	if math.IsInf(m, 0) {
		return m
	}
	s := 0.0
	for _, x := range z {
		s += math.Exp(float64(x)*inv - m)
	}
	return m + math.Log(s)
}

// TopKBatch holds the teacher's top-k log-probabilities for the rows of a batch: row r has the
// entries Off[r]..Off[r+1] of IDs (ascending) and LogP, and Tail[r], the log of the probability
// of every other token (−Inf when the k tokens are the whole vocabulary). Rows without entries
// carry no teacher information and are skipped by the KL.
type TopKBatch struct {
	Off  []int32
	IDs  []int32
	LogP []float32
	Tail []float32
}

// Rows returns the number of rows.
func (b *TopKBatch) Rows() int { return len(b.Tail) }

// Reset empties the batch, keeping its storage.
func (b *TopKBatch) Reset() {
	b.Off, b.IDs, b.LogP, b.Tail = append(b.Off[:0], 0), b.IDs[:0], b.LogP[:0], b.Tail[:0]
}

// lossTopK records the loss of logits against the teacher's top-k (see TopKMode) and returns
// the scalar to differentiate. The KL term's gradient with respect to the logits is computed
// here and injected through the surrogate Σ logits ∘ G (G constant), whose gradient is G.
// scratch, when it has len(logits.Data) elements, holds the injected gradient (it must stay
// untouched until Backward has run); nil allocates.
func lossTopK(tp *Tape, logits *Tensor, tk *TopKBatch, targets []int32, skip []bool, o LossOptions, scratch []float32) (*Tensor, LossParts, error) {
	var parts LossParts
	var loss *Tensor
	if o.Alpha > 0 {
		v := logits.Shape[len(logits.Shape)-1]
		rows := len(logits.Data) / v
		if tk == nil || tk.Rows() != rows {
			return nil, parts, fmt.Errorf("distill: loss: teacher top-k has %d rows, logits %d", tkRows(tk), rows)
		}
		g := scratch
		if len(g) != len(logits.Data) {
			g = make([]float32, len(logits.Data))
		} else {
			clear(g)
		}
		kl, n, err := topKGrad(logits.Data, v, tk, skip, o, g, tp.Threads)
		if err != nil {
			return nil, parts, err
		}
		parts.KL = kl
		if n > 0 {
			T := o.temperature()
			w := float32(o.Alpha * T * T / float64(n))
			for i := range g {
				g[i] *= w
			}
			gt, err := autograd.NewTensor(g, logits.Shape...)
			if err != nil {
				return nil, parts, fmt.Errorf("distill: loss: %w", err)
			}
			loss = autograd.Sum(tp, autograd.Mul(tp, logits, gt))
		}
	}
	loss, parts, err := addCE(tp, loss, logits, targets, o, parts)
	if err == nil && loss == nil {
		err = fmt.Errorf("distill: loss: no row has a teacher distribution or a target")
	}
	return loss, parts, err
}

func tkRows(tk *TopKBatch) int {
	if tk == nil {
		return 0
	}
	return tk.Rows()
}

// topKGrad computes the mean top-k KL over the rows not skipped (and with teacher entries) and
// writes d KL_row / d z (not yet divided by the row count) into g. It returns the mean KL and
// the number of rows that count.
func topKGrad(z []float32, v int, tk *TopKBatch, skip []bool, o LossOptions, g []float32, threads int) (float64, int, error) {
	rows := tk.Rows()
	kl := make([]float64, rows)
	use := make([]bool, rows)
	for r := range rows {
		use[r] = !skip[r] && tk.Off[r+1] > tk.Off[r]
		for _, id := range tk.IDs[tk.Off[r]:tk.Off[r+1]] {
			if id < 0 || int(id) >= v {
				return 0, 0, fmt.Errorf("distill: loss: teacher token %d out of the student's vocabulary (%d)", id, v)
			}
		}
	}
	parallel.Range(threads, rows, 8, func(_, lo, hi int) {
		var s topKScratch
		for r := lo; r < hi; r++ {
			if !use[r] {
				continue
			}
			a, b := tk.Off[r], tk.Off[r+1]
			kl[r] = s.row(z[r*v:(r+1)*v], tk.IDs[a:b], tk.LogP[a:b], float64(tk.Tail[r]), o, g[r*v:(r+1)*v])
		}
	})
	sum, n := 0.0, 0
	for r, x := range kl {
		if use[r] {
			sum += x
			n++
		}
	}
	if n == 0 {
		return 0, 0, nil
	}
	return sum / float64(n), n, nil
}

// topKScratch holds the per-row buffers of topKGrad.
type topKScratch struct {
	a, c []float64 // student and teacher bucket log-probabilities (then tempered, normalised)
	e    []float64 // exp(z − max z) of the row
}

// row computes one row's KL between bucketed distributions and writes its gradient into g.
//
// Buckets are the k tokens and (TopKTail, when the k tokens are not the whole vocabulary) the
// tail. Student bucket log-probabilities at temperature 1 are a_j = log Σ_{v∈j} softmax(z)_v;
// tempering a bucketed distribution raises each bucket's probability to 1/T and renormalises,
// for both sides: log r = a/T − lse(a/T), log q = t/T − lse(t/T). The gradient is
// d KL/d a_j = g_j = (r_j − q_j)/T (forward) or r_j·(log r_j − log q_j − KL)/T (reverse);
// since Σ g_j = 0, d KL/d z_v = g_j for a top-k token and g_tail · softmax over the tail
// tokens for the others.
func (s *topKScratch) row(z []float32, ids []int32, lp []float32, tail float64, o LossOptions, g []float32) float64 {
	T := o.temperature()
	inv := 1 / T
	k := len(ids)
	withTail := o.TopKMode == TopKTail && k < len(z)
	n := k
	if withTail {
		n++
	}
	s.a = grow(s.a, n)
	s.c = grow(s.c, n)
	// Student: log-sum-exp over all tokens, and over the tail tokens; e keeps exp(z − max).
	mx := z[0]
	for _, x := range z[1:] {
		if x > mx {
			mx = x
		}
	}
	m := float64(mx)
	s.e = grow(s.e, len(z))
	all, out := 0.0, 0.0
	j := 0
	for vi, x := range z {
		e := math.Exp(float64(x) - m)
		s.e[vi] = e
		all += e
		if j < k && int(ids[j]) == vi {
			j++
			continue
		}
		out += e
	}
	lseOut := m + math.Log(out)
	norm := m + math.Log(all)
	if o.TopKMode == TopKRenorm {
		in := 0.0
		for _, id := range ids {
			in += s.e[id]
		}
		norm = m + math.Log(in)
	}
	for i, id := range ids {
		s.a[i] = (float64(z[id]) - norm) * inv
		s.c[i] = float64(lp[i]) * inv
	}
	if withTail {
		s.a[k] = (lseOut - norm) * inv
		s.c[k] = max(tail, minLogP) * inv
	}
	normalizeLog(s.a)
	normalizeLog(s.c)
	kl := 0.0
	for i := range n {
		lr, lq := s.a[i], s.c[i]
		if o.Divergence == ReverseKL {
			if r := math.Exp(lr); r > 0 {
				kl += r * (lr - lq)
			}
		} else if q := math.Exp(lq); q > 0 {
			kl += q * (lq - lr)
		}
	}
	grad := func(i int) float64 {
		lr, lq := s.a[i], s.c[i]
		r := math.Exp(lr)
		if o.Divergence == ReverseKL {
			if r == 0 {
				return 0
			}
			return r * (lr - lq - kl) * inv
		}
		return (r - math.Exp(lq)) * inv
	}
	for i, id := range ids {
		g[id] = float32(grad(i))
	}
	if withTail {
		gt := grad(k) / out
		j = 0
		for vi := range z {
			if j < k && int(ids[j]) == vi {
				j++
				continue
			}
			g[vi] = float32(gt * s.e[vi])
		}
	}
	return kl
}

// minLogP floors the teacher's tail log-probability so that a tail stored as empty while the
// student still has tokens outside the top k cannot make the reverse KL infinite.
const minLogP = -100

// normalizeLog turns x into log-probabilities: x − logsumexp(x). −Inf entries stay −Inf.
func normalizeLog(x []float64) {
	m := math.Inf(-1)
	for _, v := range x {
		m = math.Max(m, v)
	}
	s := 0.0
	for _, v := range x {
		s += math.Exp(v - m)
	}
	l := m + math.Log(s)
	for i := range x {
		x[i] -= l
	}
}

func grow(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}

// growF32 returns b resized to n elements, reallocating only when it is too small.
func growF32(b []float32, n int) []float32 {
	if cap(b) < n {
		return make([]float32, n)
	}
	return b[:n]
}
