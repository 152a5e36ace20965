package convert

import (
	"bytes"
	"strings"
	"testing"
)

// FuzzParseSPM checks that no input makes the SentencePiece parser panic and that every model it
// accepts survives Marshal and a second parse unchanged.
func FuzzParseSPM(f *testing.F) {
	f.Add(spmSample(300).Marshal())
	m := spmSample(260)
	m.PrecompiledCharsmap = []byte{1, 2, 3}
	m.PadID = -1
	f.Add(m.Marshal())
	f.Add([]byte{0x0a, 0x05, 0x0a, 0x03, 'a', 'b', 'c'})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := ParseSPM(b)
		if err != nil {
			return
		}
		again, err := ParseSPM(m.Marshal())
		if err != nil {
			t.Fatalf("re-parse: %v", err)
		}
		if len(again.Pieces) != len(m.Pieces) {
			t.Fatalf("%d pieces, then %d", len(m.Pieces), len(again.Pieces))
		}
		for i := range m.Pieces {
			p, q := m.Pieces[i], again.Pieces[i]
			if p.Piece != q.Piece || p.Type != q.Type || !(p.Score == q.Score || p.Score != p.Score) {
				t.Fatalf("piece %d: %+v then %+v", i, p, q)
			}
		}
		if !bytes.Equal(again.Marshal(), m.Marshal()) {
			t.Fatal("Marshal is not stable")
		}
	})
}

// FuzzFrontMatter checks that model cards of any shape never make the YAML front-matter reader
// panic, and that it only returns the value types llama.cpp's reading expects.
func FuzzFrontMatter(f *testing.F) {
	f.Add("---\nlicense: mit\ntags:\n- a\n- 'b'\nlanguage: [en, \"fr\"]\n---\n")
	f.Add("---\nname: \"x\\\"y\" # c\nbase_model:\n  - name: z\n---")
	f.Add("---\n- no\n\t- x\n:\n---\n")
	f.Add("---\ntags: [a,\n  b]\nd: &d {license: mit}\ne:\n  <<: *d\nl: *d\n---\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := parseFrontMatter(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "yaml: ") {
				t.Fatalf("error without the yaml: prefix: %v", err)
			}
			return
		}
		if m != nil && !strings.HasPrefix(s, "---") {
			t.Fatal("front matter found without the opening ---")
		}
		for k, v := range m {
			switch x := v.(type) {
			case nil, string:
			case []any:
				for _, e := range x {
					if _, ok := e.(string); !ok {
						t.Fatalf("%q: list element %T", k, e)
					}
				}
			default:
				t.Fatalf("%q: value %T", k, v)
			}
		}
	})
}
