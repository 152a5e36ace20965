package eval

import (
	"reflect"
	"testing"
)

func TestModelNames(t *testing.T) {
	got := modelNames([]string{"a/f16.gguf", "b/f16.gguf", "student/model.gguf", "model.gguf", "/x/q4.gguf"})
	want := []string{"f16", "f16#2", "student/model", "model", "q4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("modelNames = %q, want %q", got, want)
	}
}
