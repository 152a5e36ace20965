package datasets

import (
	"path"
	"strings"
)

// globMatch reports whether the slash-separated relative name matches pattern, where "*",
// "?" and "[…]" match within one path segment (as path.Match) and a "**" segment matches
// any number of segments, including none. This is the fsspec/huggingface_hub glob used by
// data_files patterns. It runs in time proportional to segments(pattern) × segments(name).
func globMatch(pattern, name string) bool {
	ps := strings.Split(strings.Trim(pattern, "/"), "/")
	ns := strings.Split(strings.Trim(name, "/"), "/")
	// ok[j] is true when ps[:i] matches ns[:j], row by row over i.
	ok := make([]bool, len(ns)+1)
	ok[0] = true
	for _, p := range ps {
		next := make([]bool, len(ns)+1)
		if p == "**" {
			seen := false
			for j := 0; j <= len(ns); j++ {
				seen = seen || ok[j]
				next[j] = seen
			}
		} else {
			for j := 1; j <= len(ns); j++ {
				if ok[j-1] {
					if m, err := path.Match(p, ns[j-1]); err == nil && m {
						next[j] = true
					}
				}
			}
		}
		ok = next
	}
	return ok[len(ns)]
}

// hasGlobMeta reports whether a pattern uses any wildcard.
func hasGlobMeta(p string) bool { return strings.ContainsAny(p, "*?[") }
