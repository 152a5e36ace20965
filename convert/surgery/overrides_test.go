package surgery

import (
	"strings"
	"testing"

	"github.com/mcompress/mcompress/convert"
)

// tiny is a llama configuration with 4 heads sharing 2 KV heads, hidden 32, head dim 8.
func tiny() convert.Config {
	return convert.Config{Arch: "llama", HFModelType: "llama", VocabSize: 96, Hidden: 32, Layers: 2, Heads: 4, KVHeads: 2,
		HeadDim: 8, FFN: 48, ContextLength: 64, RMSNormEps: 1e-5, RopeTheta: 10000, RopeDim: 8, BOS: -1, EOS: -1}
}

func TestOverridesApply(t *testing.T) {
	tied := true
	for _, c := range []struct {
		name string
		o    Overrides
		want func(c *convert.Config)
		err  string // ApplyValid's error, "" when valid
	}{
		{"none", Overrides{}, func(c *convert.Config) {}, ""},
		{"narrower keeps heads, recomputes head dim", Overrides{Hidden: 16}, func(c *convert.Config) { c.Hidden, c.HeadDim, c.RopeDim = 16, 4, 4 }, ""},
		{"fewer heads keeps the group size", Overrides{Heads: 2}, func(c *convert.Config) { c.Heads, c.KVHeads, c.HeadDim, c.RopeDim = 2, 1, 16, 16 }, ""},
		{"pruned heads keep their width", Overrides{Heads: 2, KVHeads: 1, HeadDim: 8}, func(c *convert.Config) { c.Heads, c.KVHeads = 2, 1 }, ""},
		{"odd heads lose grouping", Overrides{Heads: 3}, func(c *convert.Config) { c.Heads, c.KVHeads, c.HeadDim, c.RopeDim = 3, 3, 10, 10 }, ""},
		{"explicit", Overrides{Layers: 1, Heads: 8, KVHeads: 1, HeadDim: 4, FFN: 10, Tied: &tied}, func(c *convert.Config) {
			c.Layers, c.Heads, c.KVHeads, c.HeadDim, c.RopeDim, c.FFN, c.TiedEmbeddings = 1, 8, 1, 4, 4, 10, true
		}, ""},
		{"kv heads do not divide", Overrides{Heads: 4, KVHeads: 3}, func(c *convert.Config) { c.KVHeads = 3 }, "kv_heads=3"},
		{"odd head dim", Overrides{HeadDim: 7}, func(c *convert.Config) { c.HeadDim, c.RopeDim = 7, 7 }, "head_dim=7"},
	} {
		t.Run(c.name, func(t *testing.T) {
			want := tiny()
			c.want(&want)
			if got := c.o.Apply(tiny()); got != want {
				t.Errorf("Apply:\ngot  %+v\nwant %+v", got, want)
			}
			got, err := c.o.ApplyValid(tiny())
			switch {
			case c.err == "" && err != nil:
				t.Errorf("ApplyValid: %v", err)
			case c.err == "" && got != want:
				t.Errorf("ApplyValid:\ngot  %+v\nwant %+v", got, want)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("ApplyValid error %v, want one naming %q", err, c.err)
			case c.err != "" && got != tiny():
				t.Errorf("ApplyValid changed the config on error: %+v", got)
			}
			if c.o.IsZero() != (c.name == "none") {
				t.Errorf("IsZero = %t", c.o.IsZero())
			}
		})
	}
}

func TestOverridesString(t *testing.T) {
	f := false
	for _, c := range []struct {
		o    Overrides
		want string
	}{
		{Overrides{}, "(none)"},
		{Overrides{Layers: 2, Heads: 4}, "layers=2 heads=4"},
		{Overrides{Hidden: 8, KVHeads: 1, HeadDim: 2, FFN: 3, Tied: &f}, "hidden=8 kv_heads=1 head_dim=2 ffn=3 tied=false"},
	} {
		if got := c.o.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.o, got, c.want)
		}
	}
}
