package kernels

import (
	"strings"
	"testing"
)

func TestDescribe(t *testing.T) {
	old := UsePureGo
	defer func() { UsePureGo = old }()
	for _, pure := range []bool{false, true} {
		UsePureGo = pure
		d := Describe()
		if !strings.HasPrefix(d, SIMD()) {
			t.Errorf("UsePureGo=%v: Describe() = %q does not start with SIMD() = %q", pure, d, SIMD())
		}
	}
}
