package distill

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"math"
	"os"
	"path/filepath"

	"github.com/mcompress/mcompress/convert/gguf"
	"github.com/mcompress/mcompress/runtime"
	"github.com/mcompress/mcompress/runtime/tokenizer"
)

// Teacher produces the logits distillation learns from: any GGUF the runtime loads (quantized
// ones included) or a Hugging Face folder (loaded through the converter and run from memory).
// It is not safe for concurrent use.
type Teacher struct {
	// Name describes the teacher (its path).
	Name  string
	model *runtime.Model
	sess  *runtime.Session
	keep  *Model // the weights of a teacher loaded from a folder
}

// OpenTeacher loads the teacher at path with the given number of threads (0: all cores).
func OpenTeacher(path string, threads int) (*Teacher, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, badInputf("teacher: %v", err)
	}
	t := &Teacher{Name: path}
	if st.IsDir() {
		m, err := LoadModel(path)
		if err != nil {
			return nil, fmt.Errorf("teacher: %w", err)
		}
		t.keep = m
		if t.model, err = m.Runtime(threads); err != nil {
			return nil, badInputf("teacher %s: %v", path, err)
		}
	} else {
		if t.model, err = runtime.Load(path, runtime.Options{Threads: threads}); err != nil {
			return nil, badInputf("teacher: %v", err)
		}
	}
	if t.sess, err = t.model.NewSession(0); err != nil {
		t.model.Close()
		return nil, badInputf("teacher %s: %v", path, err)
	}
	return t, nil
}

// Close releases the teacher.
func (t *Teacher) Close() error {
	if t == nil || t.model == nil {
		return nil
	}
	err := t.model.Close()
	t.model, t.sess, t.keep = nil, nil, nil
	return err
}

// Vocab returns the vocabulary size.
func (t *Teacher) Vocab() int { return t.model.Config().VocabSize }

// Metadata returns the teacher's GGUF metadata (its tokenizer).
func (t *Teacher) Metadata() gguf.Metadata { return t.model.Metadata() }

// Context returns the longest sequence the teacher evaluates.
func (t *Teacher) Context() int { return t.sess.Context() }

// Logits appends the teacher's logits for every position of seq (len(seq) rows of Vocab
// values) to dst.
func (t *Teacher) Logits(seq []int32, dst []float32) ([]float32, error) {
	if len(seq) > t.sess.Context() {
		return dst, badInputf("teacher %s: sequence of %d tokens is longer than its context (%d)", t.Name, len(seq), t.sess.Context())
	}
	out, err := t.sess.Forward(seq, 0, true)
	if err != nil {
		return dst, fmt.Errorf("distill: teacher %s: %w", t.Name, err)
	}
	if dst == nil {
		return out, nil
	}
	return append(dst, out...), nil
}

// TokenizerFingerprint returns a hash of the vocabulary in md (tokenizer.ggml.model and the
// token strings), or "" when md has no tokenizer.
func TokenizerFingerprint(md gguf.Metadata) string {
	toks, ok := md.Strings("tokenizer.ggml.tokens")
	if !ok {
		return ""
	}
	h := sha256.New()
	model, _ := md.String("tokenizer.ggml.model")
	h.Write([]byte(model))
	for _, s := range toks {
		h.Write([]byte{0})
		h.Write([]byte(s))
	}
	return hex.EncodeToString(h.Sum(nil))
}

// checkSameTokenizer reports why the models described by a and b cannot be used together: the
// vocabulary sizes differ, or both have a tokenizer and the token lists differ.
func checkSameTokenizer(aName string, aVocab int, a gguf.Metadata, bName string, bVocab int, b gguf.Metadata) error {
	if aVocab != bVocab {
		return badInputf("%s has a vocabulary of %d tokens and %s of %d: teacher and student must share a tokenizer", aName, aVocab, bName, bVocab)
	}
	ta, _ := a.Strings("tokenizer.ggml.tokens")
	tb, _ := b.Strings("tokenizer.ggml.tokens")
	if ta == nil || tb == nil {
		return nil
	}
	for i := range min(len(ta), len(tb)) {
		if ta[i] != tb[i] {
			return badInputf("%s and %s have different tokenizers (token %d is %q in one and %q in the other): teacher and student must share a tokenizer", aName, bName, i, ta[i], tb[i])
		}
	}
	if len(ta) != len(tb) {
		return badInputf("%s lists %d tokens and %s %d: teacher and student must share a tokenizer", aName, len(ta), bName, len(tb))
	}
	return nil
}

// tokAdapter lets package datasets tokenize with a runtime tokenizer.
type tokAdapter struct{ t *tokenizer.Tokenizer }

func (a tokAdapter) Encode(text string, addSpecial bool) ([]int32, error) {
	return a.t.Encode(text, tokenizer.EncodeOptions{AddSpecial: addSpecial})
}
func (a tokAdapter) BOS() int32 { return a.t.BOS() }
func (a tokAdapter) EOS() int32 { return a.t.EOS() }

// displayName shortens a path for messages and metadata.
func displayName(path string) string { return filepath.Base(filepath.Clean(path)) }

// fullRowKL returns the forward KL(softmax(t) ‖ softmax(s)) of one row at temperature 1.
func fullRowKL(s, t []float32) float64 {
	ls, lt := logSumExp32(s, 1), logSumExp32(t, 1)
	kl := 0.0
	for j := range s {
		lpt := float64(t[j]) - lt
		if p := math.Exp(lpt); p > 0 {
			kl += p * (lpt - (float64(s[j]) - ls))
		}
	}
	return kl
}
