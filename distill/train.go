package distill

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"time"

	"github.com/mcompress/mcompress/convert"
	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/distill/autograd"
	"github.com/mcompress/mcompress/internal/parallel"
)

// StudentOptions say which model is trained.
type StudentOptions struct {
	// Path loads the student from a Hugging Face folder or a GGUF file: a pruned model, or a
	// model to train further. When "", the student is built from a configuration.
	Path string
	// ConfigFile is a Hugging Face config.json (or a folder holding one) applied on top of the
	// base configuration: the teacher's, or the Tokenizer model's.
	ConfigFile string
	// Overrides change dimensions of the configuration (after ConfigFile).
	Overrides ConfigOverrides
	// Init is how a student built from a configuration starts: "teacher" (the default when a
	// teacher is given: every tensor whose shape allows it is copied or sliced from the teacher,
	// block i from teacher block surgery.EvenLayers(...)[i]) or "random" (N(0, InitStd²) matrices, unit
	// norms).
	Init string
	// InitStd is the standard deviation of random weights (0.02 when 0).
	InitStd float64
	// Tokenizer is a model (GGUF or folder) whose tokenizer, and configuration as the base,
	// a student built without a teacher uses (mcompress train).
	Tokenizer string
}

// Progress is what Options.Progress receives after every optimizer step (and at phase
// changes).
type Progress struct {
	Phase        string // "data", "train", "valid", "save"
	Step, Steps  int
	Tokens       int64   // tokens trained on so far
	Loss         float64 // of the last step
	LR           float64
	TokensPerSec float64 // training tokens per second of step time since the run (or the resume) started
	Elapsed, ETA time.Duration
}

// Options configure Run. Zero values take the defaults in the comments.
type Options struct {
	// Teacher is the teacher: a GGUF file the runtime loads (quantized too) or a Hugging Face
	// folder. With TeacherCache set it is only used for the student's configuration, tokenizer
	// and initialisation, and may be "".
	Teacher string
	// TeacherCache is a file written by BuildCache: training reads the teacher's top-k
	// log-probabilities and the token sequences from it instead of running the teacher
	// (offline distillation); Data is then not read.
	TeacherCache string

	Student StudentOptions
	Data    DataOptions

	SeqLen int   // tokens per sequence (0: 256, or the teacher cache's own length; another length than a cache's is an error)
	Batch  int   // sequences per micro-batch (8)
	Accum  int   // micro-batches per optimizer step (1)
	Steps  int   // optimizer steps; 0: from Tokens, or one epoch when Tokens is 0 too
	Tokens int64 // token budget when Steps is 0: Steps = ⌈Tokens / (Batch·Accum·SeqLen)⌉

	Optim    AdamWOptions
	Schedule Schedule
	Warmup   int     // warmup steps (0: none)
	MinLR    float64 // learning rate at the end of the schedule, taken as given (0: decay to 0; DefaultOptions: 1e-4, a tenth of the default LR)
	ClipNorm float64 // global gradient-norm clip, taken as given (0: no clipping; DefaultOptions: 1)
	Loss     LossOptions
	Seed     uint64 // data order and random initialisation
	Threads  int    // 0: all cores

	ValidEvery      int // steps between validations (0: only at the end)
	CheckpointEvery int // steps between checkpoints (0: only on interruption and at the end)
	KeepCheckpoints int // checkpoints kept (0: 2)
	Resume          bool

	// Output is the run folder: hf/ (the Hugging Face model), model.gguf, train.jsonl and
	// checkpoints/.
	Output string
	Save   SaveOptions

	Progress func(Progress)
	Log      func(msg string)
}

// ValidResult is one validation: the student's perplexity on the held-out sequences (llama.cpp's
// scheme: each sequence starts with BOS, positions SeqLen/2 … SeqLen−2 are scored) and the
// mean KL(teacher ‖ student) at temperature 1 over the same positions (over the top-k buckets
// when the teacher is a cache).
type ValidResult struct {
	Step       int     `json:"step"`
	Perplexity float64 `json:"valid_ppl"`
	CE         float64 `json:"valid_ce"`
	KL         float64 `json:"valid_kl,omitempty"`
	HasKL      bool    `json:"-"`
	Tokens     int     `json:"valid_tokens"`
}

// Result summarises a run.
type Result struct {
	Steps        int            `json:"steps"`
	Tokens       int64          `json:"tokens"`
	Params       int            `json:"params"`
	Config       convert.Config `json:"config"`
	Init         string         `json:"init,omitempty"`
	ResumedFrom  int            `json:"resumed_from,omitempty"`
	Loss         LossParts      `json:"last_loss"`
	Valid        *ValidResult   `json:"valid,omitempty"`
	TeacherPPL   float64        `json:"teacher_valid_ppl,omitempty"`
	HFDir        string         `json:"hf_dir"`
	GGUF         string         `json:"gguf"`
	LogFile      string         `json:"log"`
	Elapsed      time.Duration  `json:"elapsed_ns"`
	TokensPerSec float64        `json:"tokens_per_s"`
}

// DefaultSeqLen is the sequence length when Options.SeqLen is 0 and no teacher cache fixes it.
const DefaultSeqLen = 256

// DefaultOptions returns the options the CLI starts from: the defaults of every field spelled
// out, including those whose zero value means something else (MinLR 0 decays to 0, ClipNorm 0
// does not clip). Start from it and change what you need; a zero Options{} trains too, but
// without clipping and with the learning rate decaying to 0.
func DefaultOptions() Options {
	return Options{
		Batch:           8,
		Accum:           1,
		Optim:           AdamWOptions{}.withDefaults(),
		Schedule:        Cosine,
		MinLR:           AdamWOptions{}.withDefaults().LR / 10,
		ClipNorm:        1,
		KeepCheckpoints: 2,
		Student:         StudentOptions{InitStd: 0.02},
	}
}

// defaults fills in the zero values that have no meaning of their own.
func (o *Options) defaults() {
	if o.Batch == 0 {
		o.Batch = 8
	}
	if o.Accum == 0 {
		o.Accum = 1
	}
	o.Optim = o.Optim.withDefaults()
	if o.KeepCheckpoints == 0 {
		o.KeepCheckpoints = 2
	}
}

// check reports options out of range.
func (o *Options) check() error {
	switch {
	case o.SeqLen != 0 && o.SeqLen < 2:
		return badInputf("sequence length %d must be at least 2", o.SeqLen)
	case o.Batch < 1 || o.Accum < 1:
		return badInputf("batch %d and accumulation %d must be positive", o.Batch, o.Accum)
	case o.Steps < 0 || o.Tokens < 0 || o.Warmup < 0 || o.ValidEvery < 0 || o.CheckpointEvery < 0:
		return badInputf("steps, tokens, warmup and intervals must not be negative")
	case o.Output == "":
		return badInputf("no output folder given")
	case math.IsNaN(o.MinLR) || math.IsNaN(o.ClipNorm):
		return badInputf("min-lr and clip must be numbers")
	case o.MinLR < 0 || o.ClipNorm < 0:
		return badInputf("min-lr %g and clip %g must not be negative (clip 0: no clipping)", o.MinLR, o.ClipNorm)
	case o.Data.ValidFraction < 0 || o.Data.ValidFraction >= 1 || math.IsNaN(o.Data.ValidFraction):
		return badInputf("validation fraction %g must be in [0, 1)", o.Data.ValidFraction)
	}
	if err := o.Optim.Validate(); err != nil {
		return badInputf("%v", err)
	}
	if err := o.Loss.Validate(); err != nil {
		return badInputf("%v", err)
	}
	if o.Loss.Alpha > 0 && o.Teacher == "" && o.TeacherCache == "" {
		return badInputf("alpha %g needs a teacher (--teacher or --teacher-cache); alpha 0 trains with cross-entropy only", o.Loss.Alpha)
	}
	if o.TeacherCache == "" && o.Data.Path == "" {
		return badInputf("no training data given")
	}
	switch o.Student.Init {
	case "", "teacher", "random":
	default:
		return badInputf("student init %q (want teacher or random)", o.Student.Init)
	}
	return nil
}

// runner holds the state of one run.
type runner struct {
	o       Options
	m       *Model
	teacher *Teacher
	cache   *Cache
	train   [][]int32
	valid   [][]int32
	opt     *AdamW
	samp    *sampler
	steps   int
	log     *jsonLog
	ckptDir string
	fp      string
	tp      *Tape
	vtp     *Tape
	start   time.Time
	tokens0 int64 // tokens already trained when this process started
	prev    float64
	// trainTime is the time spent in optimizer steps by this process (not validating or
	// checkpointing): the denominator of tokens per second.
	trainTime time.Duration
	// Buffers reused from step to step.
	tk    TopKBatch
	teach []float32
	grad  []float32
}

// Run trains a student: distillation from a teacher (online, running it on every batch, or
// offline from a BuildCache file) with the loss of Options.Loss, or plain cross-entropy training
// when Loss.Alpha is 0 (mcompress train). It checkpoints every CheckpointEvery steps and when ctx
// is cancelled (then it returns ctx's error), resumes from the newest checkpoint with Resume,
// and writes the trained model as a Hugging Face folder and a GGUF file in Output.
//
// Runs are deterministic: the same options, data and thread count give the same bytes, also
// when the run was interrupted (even by kill -9) and resumed.
func Run(ctx context.Context, o Options) (*Result, error) {
	o.defaults()
	if err := o.check(); err != nil {
		return nil, err
	}
	r := &runner{o: o}
	defer r.close()
	if err := r.setup(ctx); err != nil {
		return nil, err
	}
	return r.run(ctx)
}

func (r *runner) logf(format string, args ...any) {
	if r.o.Log != nil {
		r.o.Log(fmt.Sprintf(format, args...))
	}
}

func (r *runner) close() {
	if r.teacher != nil {
		r.teacher.Close()
	}
	if r.cache != nil {
		r.cache.Close()
	}
	if r.log != nil {
		r.log.close()
	}
}

// setup loads the teacher, the student and the data, and checks them against each other before
// anything is written.
func (r *runner) setup(ctx context.Context) error {
	o := &r.o
	if err := checkWritable(o.Output); err != nil {
		return err
	}
	var err error
	if o.TeacherCache != "" {
		if r.cache, err = OpenCache(o.TeacherCache); err != nil {
			return err
		}
	} else if o.Teacher != "" && o.Loss.Alpha > 0 {
		if r.teacher, err = OpenTeacher(o.Teacher, o.Threads); err != nil {
			return err
		}
	}
	if err := r.buildStudent(); err != nil {
		return err
	}
	c := r.m.Config
	r.logf("student: %s, %d layers, hidden %d, %d heads (%d KV), FFN %d, vocabulary %d: %d parameters",
		c.Arch, c.Layers, c.Hidden, c.Heads, c.KVHeads, c.FFN, c.VocabSize, r.m.NumParams())
	// Tokenizers and data.
	switch {
	case r.cache != nil:
		ci := r.cache.Info
		if ci.Vocab != c.VocabSize {
			return badInputf("teacher cache %s has a vocabulary of %d tokens and the student %d: teacher and student must share a tokenizer", o.TeacherCache, ci.Vocab, c.VocabSize)
		}
		if fp := TokenizerFingerprint(r.m.Metadata); fp != "" && ci.TokenizerSHA256 != "" && fp != ci.TokenizerSHA256 {
			return badInputf("teacher cache %s was made with another tokenizer than the student's: teacher and student must share a tokenizer", o.TeacherCache)
		}
		if o.SeqLen != 0 && o.SeqLen != ci.SeqLen {
			return badInputf("teacher cache %s holds sequences of %d tokens; --seq-len %d differs", o.TeacherCache, ci.SeqLen, o.SeqLen)
		}
		o.SeqLen = ci.SeqLen
		for _, split := range []string{"train", "valid"} {
			n := r.cache.Sequences(split)
			seqs := make([][]int32, n)
			for i := range seqs {
				if seqs[i], err = r.cache.Tokens(split, i, nil); err != nil {
					return err
				}
			}
			if split == "train" {
				r.train = seqs
			} else {
				r.valid = seqs
			}
		}
		if o.Data.ValidSequences > 0 && len(r.valid) > o.Data.ValidSequences {
			r.valid = r.valid[:o.Data.ValidSequences]
		}
	default:
		if o.SeqLen == 0 {
			o.SeqLen = DefaultSeqLen
		}
		if r.teacher != nil {
			if err := checkSameTokenizer("teacher "+displayName(o.Teacher), r.teacher.Vocab(), r.teacher.Metadata(), "the student", c.VocabSize, r.m.Metadata); err != nil {
				return err
			}
			if o.SeqLen > r.teacher.Context() {
				return badInputf("sequence length %d exceeds the teacher's context (%d)", o.SeqLen, r.teacher.Context())
			}
		}
		if !r.m.Metadata.Has("tokenizer.ggml.tokens") {
			return badInputf("the student has no tokenizer to read the data with; give --tokenizer")
		}
		r.progress(Progress{Phase: "data"})
		p, err := packData(ctx, r.m.Metadata, o.Data, o.SeqLen, o.Seed, nil)
		if err != nil {
			return err
		}
		r.train, r.valid = p.train, p.valid
		if err := checkTokens(r.train, c.VocabSize, "training data"); err != nil {
			return err
		}
	}
	if len(r.train) == 0 {
		return badInputf("no training sequence of %d tokens", o.SeqLen)
	}
	perStep := o.Batch * o.Accum
	switch {
	case o.Steps > 0:
		r.steps = o.Steps
	case o.Tokens > 0:
		r.steps = int((o.Tokens + int64(perStep*o.SeqLen) - 1) / int64(perStep*o.SeqLen))
	default:
		r.steps = (len(r.train) + perStep - 1) / perStep
	}
	r.logf("data: %d training sequences and %d validation sequences of %d tokens; %d steps of %d×%d sequences (%d tokens)",
		len(r.train), len(r.valid), o.SeqLen, r.steps, o.Accum, o.Batch, int64(r.steps)*int64(perStep*o.SeqLen))
	r.fp = r.fingerprint()
	return r.prepareOutput()
}

func (r *runner) progress(p Progress) {
	if r.o.Progress != nil {
		r.o.Progress(p)
	}
}

// buildStudent loads or builds the student model and initialises it.
func (r *runner) buildStudent() error {
	o := &r.o
	s := o.Student
	if s.Path != "" {
		if s.ConfigFile != "" || !s.Overrides.IsZero() {
			return badInputf("a student loaded from %s cannot also be given a config or dimensions", s.Path)
		}
		m, err := LoadModel(s.Path)
		if err != nil {
			return fmt.Errorf("student: %w", err)
		}
		if !m.Metadata.Has("tokenizer.ggml.tokens") {
			if src := firstNonEmpty(o.Teacher, s.Tokenizer); src != "" {
				_, md, err := ReadModelInfo(src)
				if err != nil {
					return err
				}
				m.Metadata = append(m.Metadata, tokenizerKeys(md)...)
			}
		}
		r.m = m
		return nil
	}
	base := firstNonEmpty(o.Teacher, s.Tokenizer)
	if base == "" {
		return badInputf("no student: give a student model, or a teacher or --tokenizer model whose configuration a --student-config or dimension flags modify")
	}
	cfg, md, err := ReadModelInfo(base)
	if err != nil {
		return fmt.Errorf("student base: %w", err)
	}
	cfg.RopeScaling = convert.RopeScaling{} // a new student gets plain RoPE unless its config says otherwise
	if s.ConfigFile != "" {
		if cfg, err = ReadHFConfig(s.ConfigFile, cfg); err != nil {
			return err
		}
	}
	cfg = s.Overrides.Apply(cfg)
	if err := CheckConfig(cfg); err != nil {
		return badInputf("student configuration cannot be built: %v", err)
	}
	m, err := NewModel(cfg, md)
	if err != nil {
		return badInputf("student configuration cannot be built: %v", err)
	}
	init := s.Init
	if init == "" {
		init = "random"
		if o.Teacher != "" {
			init = "teacher"
		}
	}
	if init == "teacher" {
		if o.Teacher == "" {
			return badInputf("--init teacher needs a teacher model")
		}
		t, err := LoadModel(o.Teacher)
		if err != nil {
			return fmt.Errorf("teacher weights for the student's initialisation: %w", err)
		}
		rep := m.InitFromTeacher(t, o.Seed, s.InitStd)
		r.logf("student initialised from the teacher: %s", rep)
	} else {
		m.InitRandom(o.Seed, s.InitStd)
		r.logf("student initialised at random (seed %d)", o.Seed)
	}
	r.m = m
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// tokenizerKeys returns the tokenizer.* entries of md.
func tokenizerKeys(md gguf.Metadata) gguf.Metadata {
	var out gguf.Metadata
	for _, kv := range md {
		if len(kv.Key) > 10 && kv.Key[:10] == "tokenizer." {
			out = append(out, kv)
		}
	}
	return out
}

// fingerprint hashes what determines the trained weights.
func (r *runner) fingerprint() string {
	o := r.o
	fileID := func(p string) string {
		if p == "" {
			return ""
		}
		st, err := os.Stat(p)
		if err != nil {
			return p
		}
		return fmt.Sprintf("%s:%d", filepath.Base(filepath.Clean(p)), st.Size())
	}
	v := map[string]any{
		"config": r.m.Config, "student": o.Student.Path, "student_config": fileID(o.Student.ConfigFile),
		"init": o.Student.Init, "teacher": fileID(o.Teacher), "cache": fileID(o.TeacherCache),
		"loss": o.Loss, "optim": o.Optim, "schedule": o.Schedule, "warmup": o.Warmup, "min_lr": o.MinLR,
		"clip": o.ClipNorm, "batch": o.Batch, "accum": o.Accum, "seq": o.SeqLen, "steps": r.steps,
		"seed": o.Seed, "data": hashSeqs(r.train),
	}
	b, _ := json.Marshal(v)
	h := sha256.Sum256(b)
	return hex.EncodeToString(h[:])
}

// checkWritable reports, before any work, an output that cannot be created: the nearest
// existing ancestor of path must be a folder in which a file can be created (nothing is left).
func checkWritable(path string) error {
	dir := filepath.Clean(path)
	for {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return badInputf("output %s: %s is not a folder", path, dir)
			}
			break
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return badInputf("output %s: %v", path, err)
		}
		dir = parent
	}
	f, err := os.CreateTemp(dir, ".mcompress-write-test-")
	if err != nil {
		return badInputf("output %s is not writable: %v", path, err)
	}
	f.Close()
	os.Remove(f.Name())
	return nil
}

// prepareOutput creates the run folder and checks that it is writable.
func (r *runner) prepareOutput() error {
	o := r.o
	r.ckptDir = filepath.Join(o.Output, "checkpoints")
	if st, err := os.Stat(o.Output); err == nil && !st.IsDir() {
		return badInputf("output %s exists and is not a folder", o.Output)
	}
	steps, _ := listCheckpoints(r.ckptDir)
	if len(steps) > 0 && !o.Resume {
		return badInputf("output %s already holds checkpoints of a run; resume it with --resume or choose another folder", o.Output)
	}
	if err := os.MkdirAll(r.ckptDir, 0o755); err != nil {
		return badInputf("output: cannot create %s: %v", r.ckptDir, err)
	}
	probe, err := os.CreateTemp(o.Output, ".write-test-")
	if err != nil {
		return badInputf("output %s is not writable: %v", o.Output, err)
	}
	probe.Close()
	os.Remove(probe.Name())
	return nil
}

// run is the training loop.
func (r *runner) run(ctx context.Context) (*Result, error) {
	o := r.o
	res := &Result{Params: r.m.NumParams(), Config: r.m.Config, HFDir: filepath.Join(o.Output, "hf"),
		GGUF: filepath.Join(o.Output, "model.gguf"), LogFile: filepath.Join(o.Output, "train.jsonl")}
	r.opt = NewAdamW(r.m.Params.List(), o.Optim)
	r.opt.Threads = o.Threads
	r.samp = newSampler(len(r.train), o.Seed)
	st := checkpointState{Steps: r.steps, Fingerprint: r.fp}
	if o.Resume {
		steps, err := listCheckpoints(r.ckptDir)
		if err != nil {
			return nil, badInputf("resume: %v", err)
		}
		if len(steps) > 0 {
			path := filepath.Join(r.ckptDir, checkpointName(steps[len(steps)-1]))
			if st, err = loadCheckpoint(path, r.m, r.opt, r.samp, r.fp); err != nil {
				return nil, err
			}
			res.ResumedFrom = st.Step
			r.logf("resumed from %s (step %d of %d)", path, st.Step, r.steps)
		} else {
			r.logf("nothing to resume in %s: starting from step 0", r.ckptDir)
		}
	}
	var err error
	if r.log, err = openJSONLog(res.LogFile, st.Step); err != nil {
		return nil, err
	}
	r.tp = &Tape{Threads: o.Threads}
	r.vtp = &Tape{Threads: o.Threads, NoGrad: true}
	if st.Step == 0 && r.teacher != nil && len(r.valid) > 0 {
		ppl, err := r.teacherPPL(ctx)
		if err != nil {
			return nil, err
		}
		res.TeacherPPL = ppl
		r.log.write(map[string]any{"step": 0, "teacher_valid_ppl": ppl})
		r.logf("teacher: validation perplexity %.4f", ppl)
	}
	r.start, r.tokens0, r.prev = time.Now(), st.Tokens, st.Elapsed
	var parts LossParts
	ckpt := func() error {
		st.Elapsed = r.prev + time.Since(r.start).Seconds()
		p, err := saveCheckpoint(r.ckptDir, r.m, r.opt, r.samp, st, o.KeepCheckpoints)
		if err == nil {
			r.logf("checkpoint: %s", p)
		}
		return err
	}
	for st.Step < r.steps {
		if err := ctx.Err(); err != nil {
			if cerr := ckpt(); cerr != nil {
				return nil, errors.Join(err, cerr)
			}
			return nil, err
		}
		lr := LRAt(o.Schedule, st.Step, r.steps, o.Warmup, o.Optim.LR, o.MinLR)
		t0 := time.Now()
		gn, p, err := r.step(lr)
		r.trainTime += time.Since(t0)
		if err != nil {
			return nil, err
		}
		parts = p
		st.Step++
		st.Tokens += int64(o.Batch * o.Accum * o.SeqLen)
		el := time.Since(r.start)
		tps := float64(st.Tokens-r.tokens0) / r.trainTime.Seconds()
		r.log.write(map[string]any{"step": st.Step, "epoch": r.samp.epoch, "lr": lr, "loss": p.Loss, "kl": p.KL, "ce": p.CE,
			"grad_norm": gn, "tokens": st.Tokens, "tokens_per_s": round3(tps), "elapsed_s": round3(r.prev + el.Seconds())})
		eta := time.Duration(0)
		if tps > 0 {
			eta = time.Duration(float64(int64(r.steps-st.Step)*int64(o.Batch*o.Accum*o.SeqLen)) / tps * float64(time.Second))
		}
		r.progress(Progress{Phase: "train", Step: st.Step, Steps: r.steps, Tokens: st.Tokens, Loss: p.Loss, LR: lr, TokensPerSec: tps, Elapsed: el, ETA: eta})
		if o.ValidEvery > 0 && st.Step%o.ValidEvery == 0 && st.Step < r.steps && len(r.valid) > 0 {
			if _, err := r.validateAndLog(ctx, st.Step); err != nil {
				if ctx.Err() != nil {
					continue // checkpointed at the top of the loop
				}
				return nil, err
			}
		}
		if o.CheckpointEvery > 0 && st.Step%o.CheckpointEvery == 0 && st.Step < r.steps {
			if err := ckpt(); err != nil {
				return nil, err
			}
		}
	}
	res.Steps, res.Tokens, res.Loss = st.Step, st.Tokens, parts
	if len(r.valid) > 0 {
		v, err := r.validateAndLog(ctx, st.Step)
		if err != nil {
			return nil, err
		}
		res.Valid = &v
	}
	r.progress(Progress{Phase: "save", Step: st.Step, Steps: r.steps, Tokens: st.Tokens})
	if err := ckpt(); err != nil {
		return nil, err
	}
	so := o.Save
	if so.Name == "" {
		so.Name = displayName(o.Output)
	}
	if err := r.m.Save(ctx, res.HFDir, res.GGUF, so); err != nil {
		return nil, err
	}
	res.Elapsed = time.Duration((r.prev + time.Since(r.start).Seconds()) * float64(time.Second))
	if s := r.trainTime.Seconds(); s > 0 {
		res.TokensPerSec = float64(st.Tokens-r.tokens0) / s
	}
	return res, nil
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

// step runs one optimizer step (Accum micro-batches) and returns the gradient norm before
// clipping and the mean loss parts.
func (r *runner) step(lr float64) (float64, LossParts, error) {
	o := r.o
	B, L := o.Batch, o.SeqLen
	ids := make([]int32, B*L)
	r.m.Params.ZeroGrad()
	var sum LossParts
	tk, teach := &r.tk, r.teach
	defer func() { r.teach = teach[:0] }()
	for a := 0; a < o.Accum; a++ {
		idx := make([]int, B)
		for b := range idx {
			idx[b] = r.samp.next()
			copy(ids[b*L:(b+1)*L], r.train[idx[b]])
		}
		r.tp.Reset()
		logits, err := r.m.Forward(r.tp, ids, B, L)
		if err != nil {
			return 0, sum, err
		}
		targets, skip := nextTokenTargets(ids, B, L)
		var loss *Tensor
		var parts LossParts
		switch {
		case o.Loss.Alpha == 0:
			loss, parts, err = lossFull(r.tp, logits, nil, targets, skip, o.Loss)
		case r.cache != nil:
			tk.Reset()
			for _, i := range idx {
				if err := r.cache.TopK("train", i, tk); err != nil {
					return 0, sum, err
				}
			}
			r.grad = growF32(r.grad, len(logits.Data))
			loss, parts, err = lossTopK(r.tp, logits, tk, targets, skip, o.Loss, r.grad)
		default:
			teach = teach[:0]
			for b := range B {
				if teach, err = r.teacher.Logits(ids[b*L:(b+1)*L], teach); err != nil {
					return 0, sum, err
				}
			}
			tt, err := autograd.NewTensor(teach, logits.Shape...)
			if err != nil {
				return 0, sum, err
			}
			loss, parts, err = lossFull(r.tp, logits, tt, targets, skip, o.Loss)
			if err != nil {
				return 0, sum, err
			}
		}
		if err != nil {
			return 0, sum, err
		}
		if o.Accum > 1 {
			loss = autograd.Scale(r.tp, loss, 1/float64(o.Accum))
		}
		if err := r.tp.Backward(loss); err != nil {
			return 0, sum, fmt.Errorf("distill: backward: %w", err)
		}
		k := 1 / float64(o.Accum)
		sum.Loss += parts.Loss * k
		sum.KL += parts.KL * k
		sum.CE += parts.CE * k
	}
	r.tp.Reset()
	var gn float64
	if o.ClipNorm > 0 {
		gn = r.m.Params.ClipGradNorm(o.ClipNorm)
	} else {
		gn = r.m.Params.GradNorm()
	}
	if math.IsNaN(gn) || math.IsInf(gn, 0) {
		return gn, sum, fmt.Errorf("distill: gradient norm is %g at loss %g: training diverged (lower the learning rate)", gn, sum.Loss)
	}
	r.opt.Step(lr)
	return gn, sum, nil
}

// validateAndLog validates, logs the result and reports it.
func (r *runner) validateAndLog(ctx context.Context, step int) (ValidResult, error) {
	r.progress(Progress{Phase: "valid", Step: step, Steps: r.steps})
	v, err := r.validate(ctx)
	if err != nil {
		return v, err
	}
	v.Step = step
	rec := map[string]any{"step": step, "valid_ppl": v.Perplexity, "valid_ce": v.CE, "valid_tokens": v.Tokens}
	msg := fmt.Sprintf("step %d: validation perplexity %.4f", step, v.Perplexity)
	if v.HasKL {
		rec["valid_kl"] = v.KL
		msg += fmt.Sprintf(", KL to the teacher %.4f", v.KL)
	}
	r.log.write(rec)
	r.logf("%s", msg)
	return v, nil
}

// scored reports whether position t of a validation sequence of length L is scored.
func scored(t, L int) bool { return t >= L/2 && t <= L-2 }

// validate computes the student's perplexity and KL on the validation sequences.
func (r *runner) validate(ctx context.Context) (ValidResult, error) {
	o := r.o
	B, L := o.Batch, o.SeqLen
	V := r.m.Config.VocabSize
	var nll, kl float64
	var n int
	hasKL := r.teacher != nil || (r.cache != nil && r.cache.Sequences("valid") > 0)
	var tk TopKBatch
	for lo := 0; lo < len(r.valid); lo += B {
		if err := ctx.Err(); err != nil {
			return ValidResult{}, err
		}
		hi := min(lo+B, len(r.valid))
		b := hi - lo
		ids := make([]int32, 0, b*L)
		for _, s := range r.valid[lo:hi] {
			ids = append(ids, s...)
		}
		r.vtp.Reset()
		logits, err := r.m.Forward(r.vtp, ids, b, L)
		if err != nil {
			return ValidResult{}, err
		}
		var teach []float32
		tk.Reset()
		if hasKL {
			for i := lo; i < hi; i++ {
				if r.teacher != nil {
					if teach, err = r.teacher.Logits(r.valid[i], teach); err != nil {
						return ValidResult{}, err
					}
				} else if err := r.cache.TopK("valid", i, &tk); err != nil {
					return ValidResult{}, err
				}
			}
		}
		rows := b * L
		rowNLL := make([]float64, rows)
		rowKL := make([]float64, rows)
		lo2 := LossOptions{Temperature: 1}
		parallel.Range(o.Threads, rows, 4, func(_, a, e int) {
			var s topKScratch
			var g []float32
			for row := a; row < e; row++ {
				t := row % L
				if !scored(t, L) {
					continue
				}
				z := logits.Data[row*V : (row+1)*V]
				rowNLL[row] = logSumExp32(z, 1) - float64(z[ids[row+1]])
				switch {
				case r.teacher != nil:
					rowKL[row] = fullRowKL(z, teach[row*V:(row+1)*V])
				case hasKL && tk.Off[row+1] > tk.Off[row]:
					if g == nil {
						g = make([]float32, V)
					}
					p, q := tk.Off[row], tk.Off[row+1]
					rowKL[row] = s.row(z, tk.IDs[p:q], tk.LogP[p:q], float64(tk.Tail[row]), lo2, g)
				}
			}
		})
		for row := range rows {
			if scored(row%L, L) {
				nll += rowNLL[row]
				kl += rowKL[row]
				n++
			}
		}
	}
	r.vtp.Reset()
	if n == 0 {
		return ValidResult{}, nil
	}
	v := ValidResult{CE: nll / float64(n), Tokens: n, HasKL: hasKL}
	v.Perplexity = math.Exp(v.CE)
	if hasKL {
		v.KL = kl / float64(n)
	}
	return v, nil
}

// teacherPPL returns the teacher's perplexity on the validation sequences (same scheme).
func (r *runner) teacherPPL(ctx context.Context) (float64, error) {
	L := r.o.SeqLen
	V := r.teacher.Vocab()
	var nll float64
	var n int
	var buf []float32
	for _, s := range r.valid {
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		var err error
		if buf, err = r.teacher.Logits(s, buf[:0]); err != nil {
			return 0, err
		}
		for t := range L {
			if scored(t, L) {
				nll += logSumExp32(buf[t*V:(t+1)*V], 1) - float64(buf[t*V+int(s[t+1])])
				n++
			}
		}
	}
	if n == 0 {
		return 0, nil
	}
	return math.Exp(nll / float64(n)), nil
}
