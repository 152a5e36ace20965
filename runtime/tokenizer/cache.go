package tokenizer

import "strings"

// Limits of the per-goroutine cache of tokenized words.
const (
	cacheMaxKey     = 64      // longest cached word, in bytes
	cacheMaxEntries = 1 << 15 // the cache is emptied when it holds this many words
)

// idCache remembers the ids of words already tokenized. Tokenizing a word depends on nothing
// but its bytes, so a hit gives exactly what tokenizing again would.
type idCache struct {
	m     map[string]uint64 // word -> offset<<32 | count in arena
	arena []int32
}

func (c *idCache) get(word string) ([]int32, bool) {
	if len(word) > cacheMaxKey || c.m == nil {
		return nil, false
	}
	v, ok := c.m[word]
	if !ok {
		return nil, false
	}
	off, n := uint32(v>>32), uint32(v)
	return c.arena[off : off+n], true
}

func (c *idCache) put(word string, ids []int32) {
	if len(word) > cacheMaxKey {
		return
	}
	if c.m == nil || len(c.m) >= cacheMaxEntries || len(c.arena)+len(ids) > 1<<24 {
		c.m = make(map[string]uint64, 1024)
		c.arena = c.arena[:0]
	}
	c.m[strings.Clone(word)] = uint64(len(c.arena))<<32 | uint64(len(ids))
	c.arena = append(c.arena, ids...)
}
