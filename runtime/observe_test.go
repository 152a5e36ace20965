package runtime

import (
	"fmt"
	"testing"
)

// TestSetActivationObserver checks that an observer set on a loaded model sees the forward
// pass with the weight names of every site, that the previous one is returned, and that nil
// removes it.
func TestSetActivationObserver(t *testing.T) {
	cfg := tinyConfig("llama")
	var first, second int
	var names []string
	m, err := FromTensors(cfg, randomTensors(cfg, 3), nil, Options{Threads: 1, ActivationObserver: func(Activations) { first++ }})
	if err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	s, _ := m.NewSession(8)
	run := func() {
		t.Helper()
		if _, err := s.Forward([]int32{1, 2, 3}, 0, false); err != nil {
			t.Fatal(err)
		}
	}
	prev := m.SetActivationObserver(func(a Activations) {
		second++
		if a.Site == SiteFFNDown {
			names = append(names, a.Weights...)
		}
	})
	run()
	if first != 0 || second != 6*cfg.Layers+1 {
		t.Errorf("after replacing: old observer saw %d, new one %d (want 0 and %d)", first, second, 6*cfg.Layers+1)
	}
	if len(names) != cfg.Layers || names[cfg.Layers-1] != fmt.Sprintf("blk.%d.ffn_down.weight", cfg.Layers-1) {
		t.Errorf("ffn_down site reported %v", names)
	}
	m.SetActivationObserver(prev)
	run()
	if first != 6*cfg.Layers+1 {
		t.Errorf("restored observer saw %d observations", first)
	}
	if m.SetActivationObserver(nil) == nil {
		t.Error("the previous observer was not returned")
	}
	first = 0
	run()
	if first != 0 {
		t.Errorf("removed observer saw %d observations", first)
	}
}
