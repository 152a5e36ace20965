package distill

import "sort"

// MergeCaches joins the caches that the shards of one build wrote (CacheOptions.Shard), given
// in any order, into output: the cache one process would have written, byte for byte. Every
// shard of the build must be present once, and all must share the teacher, tokenizer, coding
// and sequence length.
func MergeCaches(output string, inputs []string) (*CacheInfo, error) {
	if len(inputs) == 0 {
		return nil, badInputf("teacher cache: merge: no input files")
	}
	caches := make([]*Cache, 0, len(inputs))
	defer func() {
		for _, c := range caches {
			c.Close()
		}
	}()
	for _, in := range inputs {
		c, err := OpenCache(in)
		if err != nil {
			return nil, err
		}
		caches = append(caches, c)
		if c.Info.Shard == nil {
			return nil, badInputf("teacher cache: merge: %s is not a shard's cache (built without --shard)", in)
		}
	}
	sort.SliceStable(caches, func(a, b int) bool { return caches[a].Info.Shard.Index < caches[b].Info.Shard.Index })
	first := caches[0].Info
	for i, c := range caches {
		in := c.Info
		if in.Teacher != first.Teacher || in.Vocab != first.Vocab || in.TokenizerSHA256 != first.TokenizerSHA256 || in.K != first.K ||
			in.LogPBits != first.LogPBits || in.LogPStep != first.LogPStep || in.SeqLen != first.SeqLen {
			return nil, badInputf("teacher cache: merge: %s and %s come from different builds (teacher, tokenizer, k, coding or sequence length differ)", c.path, caches[0].path)
		}
		if in.Shard.Count != len(caches) || in.Shard.Index != i {
			return nil, badInputf("teacher cache: merge: %s is shard %d/%d, but %d shards were given: a shard is missing or repeated", c.path, in.Shard.Index, in.Shard.Count, len(caches))
		}
	}
	info := first
	info.Shard, info.Splits = nil, nil
	w, err := newCacheWriter(output, info)
	if err != nil {
		return nil, err
	}
	defer w.abort()
	for _, split := range []string{"train", "valid"} {
		type ref struct {
			c *Cache
			i int
		}
		var refs []ref
		var seqs [][]int32
		next := 0
		for _, c := range caches {
			sh := c.Info.Shard
			if sh.Total[split] != first.Shard.Total[split] || sh.First[split] != next {
				return nil, badInputf("teacher cache: merge: %s: split %s starts at sequence %d of %d, want %d of %d", c.path, split, sh.First[split], sh.Total[split], next, first.Shard.Total[split])
			}
			for i := range c.Sequences(split) {
				toks, err := c.Tokens(split, i, nil)
				if err != nil {
					return nil, err
				}
				seqs, refs = append(seqs, toks), append(refs, ref{c, i})
			}
			next += c.Sequences(split)
		}
		if next != first.Shard.Total[split] {
			return nil, badInputf("teacher cache: merge: split %s: the shards hold %d of its %d sequences", split, next, first.Shard.Total[split])
		}
		if len(seqs) == 0 {
			continue
		}
		if err := w.split(split, seqs, func(i int) ([]byte, error) { return refs[i].c.rawRows(split, refs[i].i) }); err != nil {
			return nil, err
		}
	}
	if err := w.commit(); err != nil {
		return nil, err
	}
	out := w.info
	return &out, nil
}
