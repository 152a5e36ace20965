// Package shard says which part of an embarrassingly parallel job this process runs: the
// index I and count N of `--shard I/N`, or, without the flag, the ones the batch system that
// started the process sets in its environment (Kubernetes Indexed Jobs, Slurm job arrays, AWS
// Batch array jobs, Cloud Run jobs). It also cuts n work items (chunks, examples, sequences)
// into N contiguous ranges, so that merging the shards' results in shard order visits the
// items in the order one process would.
package shard

import (
	"fmt"
	"strconv"
	"strings"
)

// Shard is one part of a job split N ways: Index in [0, Count).
type Shard struct {
	Index, Count int
	// Source names where the shard came from: "--shard", an environment variable, or "" for
	// the whole job.
	Source string
}

// Whole is the job run in one process.
var Whole = Shard{Index: 0, Count: 1}

// IsWhole reports whether s is the whole job (N = 1).
func (s Shard) IsWhole() bool { return s.Count <= 1 }

// String returns "I/N".
func (s Shard) String() string { return fmt.Sprintf("%d/%d", s.Index, max(s.Count, 1)) }

// Range returns the half-open range [lo, hi) of the n items that shard s processes: the
// items are cut into Count contiguous ranges whose lengths differ by at most one, the first
// ones shortest. A shard may get no items when n < Count.
func (s Shard) Range(n int) (lo, hi int) {
	if s.IsWhole() {
		return 0, n
	}
	return s.Index * n / s.Count, (s.Index + 1) * n / s.Count
}

// Parse reads "I/N" (0 ≤ I < N).
func Parse(text string) (Shard, error) {
	i, n, ok := strings.Cut(strings.TrimSpace(text), "/")
	if !ok {
		return Shard{}, fmt.Errorf("--shard %q: want INDEX/COUNT, such as 0/4", text)
	}
	return make2(i, n, "--shard", "--shard "+text)
}

// make2 checks an index and a count given as text.
func make2(index, count, source, what string) (Shard, error) {
	i, err := strconv.Atoi(strings.TrimSpace(index))
	if err != nil {
		return Shard{}, fmt.Errorf("%s: index %q is not an integer", what, index)
	}
	n, err := strconv.Atoi(strings.TrimSpace(count))
	if err != nil {
		return Shard{}, fmt.Errorf("%s: count %q is not an integer", what, count)
	}
	if n < 1 || i < 0 || i >= n {
		return Shard{}, fmt.Errorf("%s: index %d is not in [0, %d)", what, i, n)
	}
	return Shard{Index: i, Count: n, Source: source}, nil
}

// System is a batch system's pair of environment variables: the process's index among the
// job's tasks and their count.
type System struct {
	// Name is the batch system, for messages.
	Name string
	// Index and Counts are the variables; the first of Counts that is set gives the count.
	Index  string
	Counts []string
	// Base, when set and present, is subtracted from the index (Slurm arrays can start at any
	// number: --array=1-8 sets SLURM_ARRAY_TASK_MIN=1).
	Base string
}

// Systems are the environment variables read when no --shard is given, in the order tried.
//
// Kubernetes sets JOB_COMPLETION_INDEX in the pods of an Indexed Job but not the completions
// count: the manifest must pass it as MCOMPRESS_SHARD_COUNT (or JOB_COMPLETIONS), from the
// same number as spec.completions. AWS Batch sets AWS_BATCH_JOB_ARRAY_INDEX; the array size is
// read from AWS_BATCH_JOB_ARRAY_SIZE, which the job definition must set (or
// MCOMPRESS_SHARD_COUNT).
var Systems = []System{
	{Name: "Kubernetes Indexed Job", Index: "JOB_COMPLETION_INDEX", Counts: []string{"MCOMPRESS_SHARD_COUNT", "JOB_COMPLETIONS"}},
	{Name: "Slurm job array", Index: "SLURM_ARRAY_TASK_ID", Counts: []string{"SLURM_ARRAY_TASK_COUNT", "MCOMPRESS_SHARD_COUNT"}, Base: "SLURM_ARRAY_TASK_MIN"},
	{Name: "AWS Batch array job", Index: "AWS_BATCH_JOB_ARRAY_INDEX", Counts: []string{"AWS_BATCH_JOB_ARRAY_SIZE", "MCOMPRESS_SHARD_COUNT"}},
	{Name: "Cloud Run job", Index: "CLOUD_RUN_TASK_INDEX", Counts: []string{"CLOUD_RUN_TASK_COUNT", "MCOMPRESS_SHARD_COUNT"}},
}

// FromEnv returns the shard that the first batch system of Systems whose index variable is
// set describes, Whole when none is set. An index without a count, or values that are not a
// valid index and count, are errors naming the variables.
func FromEnv(getenv func(string) string) (Shard, error) {
	for _, sys := range Systems {
		index := getenv(sys.Index)
		if index == "" {
			continue
		}
		count, countVar := "", ""
		for _, v := range sys.Counts {
			if count = getenv(v); count != "" {
				countVar = v
				break
			}
		}
		if count == "" {
			return Shard{}, fmt.Errorf("%s=%s is set (%s) but none of %s gives the number of shards",
				sys.Index, index, sys.Name, strings.Join(sys.Counts, ", "))
		}
		what := fmt.Sprintf("%s=%s, %s=%s (%s)", sys.Index, index, countVar, count, sys.Name)
		if sys.Base != "" {
			if b := getenv(sys.Base); b != "" {
				i, err1 := strconv.Atoi(index)
				base, err2 := strconv.Atoi(b)
				if err1 != nil || err2 != nil {
					return Shard{}, fmt.Errorf("%s, %s=%s: not integers", what, sys.Base, b)
				}
				index = strconv.Itoa(i - base)
				what = fmt.Sprintf("%s, %s=%s", what, sys.Base, b)
			}
		}
		return make2(index, count, sys.Index, what)
	}
	return Whole, nil
}

// Resolve returns the shard given by the --shard flag's value, or by the environment (FromEnv)
// when the flag is empty.
func Resolve(flag string, getenv func(string) string) (Shard, error) {
	if flag != "" {
		return Parse(flag)
	}
	return FromEnv(getenv)
}
