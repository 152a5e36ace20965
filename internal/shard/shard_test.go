package shard

import (
	"strings"
	"testing"
)

func TestResolve(t *testing.T) {
	tests := []struct {
		name    string
		flag    string
		env     map[string]string
		want    Shard
		wantErr string
	}{
		{name: "nothing", want: Whole},
		{name: "flag", flag: "2/3", want: Shard{2, 3, "--shard"}},
		{name: "flag beats env", flag: "0/2", env: map[string]string{"SLURM_ARRAY_TASK_ID": "1", "SLURM_ARRAY_TASK_COUNT": "2"}, want: Shard{0, 2, "--shard"}},
		{name: "flag out of range", flag: "3/3", wantErr: "not in [0, 3)"},
		{name: "flag malformed", flag: "3", wantErr: "INDEX/COUNT"},
		{name: "flag not a number", flag: "a/3", wantErr: "not an integer"},
		{name: "kubernetes", env: map[string]string{"JOB_COMPLETION_INDEX": "1", "MCOMPRESS_SHARD_COUNT": "3"}, want: Shard{1, 3, "JOB_COMPLETION_INDEX"}},
		{name: "kubernetes JOB_COMPLETIONS", env: map[string]string{"JOB_COMPLETION_INDEX": "0", "JOB_COMPLETIONS": "2"}, want: Shard{0, 2, "JOB_COMPLETION_INDEX"}},
		{name: "kubernetes without count", env: map[string]string{"JOB_COMPLETION_INDEX": "0"}, wantErr: "MCOMPRESS_SHARD_COUNT"},
		{name: "slurm", env: map[string]string{"SLURM_ARRAY_TASK_ID": "2", "SLURM_ARRAY_TASK_COUNT": "3"}, want: Shard{2, 3, "SLURM_ARRAY_TASK_ID"}},
		{name: "slurm from 1", env: map[string]string{"SLURM_ARRAY_TASK_ID": "3", "SLURM_ARRAY_TASK_COUNT": "3", "SLURM_ARRAY_TASK_MIN": "1"}, want: Shard{2, 3, "SLURM_ARRAY_TASK_ID"}},
		{name: "aws batch", env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "4", "AWS_BATCH_JOB_ARRAY_SIZE": "5"}, want: Shard{4, 5, "AWS_BATCH_JOB_ARRAY_INDEX"}},
		{name: "aws batch size from ours", env: map[string]string{"AWS_BATCH_JOB_ARRAY_INDEX": "0", "MCOMPRESS_SHARD_COUNT": "2"}, want: Shard{0, 2, "AWS_BATCH_JOB_ARRAY_INDEX"}},
		{name: "cloud run", env: map[string]string{"CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "1"}, want: Shard{0, 1, "CLOUD_RUN_TASK_INDEX"}},
		{name: "index past count", env: map[string]string{"CLOUD_RUN_TASK_INDEX": "2", "CLOUD_RUN_TASK_COUNT": "2"}, wantErr: "CLOUD_RUN_TASK_INDEX=2"},
		{name: "bad count", env: map[string]string{"CLOUD_RUN_TASK_INDEX": "0", "CLOUD_RUN_TASK_COUNT": "x"}, wantErr: "not an integer"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := Resolve(tt.flag, func(k string) string { return tt.env[k] })
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want one containing %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestRange checks that the ranges of N shards cover 0..n once, in order.
func TestRange(t *testing.T) {
	for _, n := range []int{0, 1, 2, 5, 7, 100} {
		for count := 1; count <= 4; count++ {
			next := 0
			for i := 0; i < count; i++ {
				lo, hi := Shard{Index: i, Count: count}.Range(n)
				if lo != next || hi < lo {
					t.Fatalf("n=%d shard %d/%d: [%d,%d), want it to start at %d", n, i, count, lo, hi, next)
				}
				if d := hi - lo; d < n/count || d > n/count+1 {
					t.Errorf("n=%d shard %d/%d has %d items", n, i, count, d)
				}
				next = hi
			}
			if next != n {
				t.Errorf("n=%d, %d shards end at %d", n, count, next)
			}
		}
	}
}
