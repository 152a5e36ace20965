package gguf

import (
	"fmt"
	"math"
)

// ValueType is the type tag of a GGUF metadata value.
type ValueType uint32

// The GGUF metadata value types.
const (
	ValueUint8   ValueType = 0
	ValueInt8    ValueType = 1
	ValueUint16  ValueType = 2
	ValueInt16   ValueType = 3
	ValueUint32  ValueType = 4
	ValueInt32   ValueType = 5
	ValueFloat32 ValueType = 6
	ValueBool    ValueType = 7
	ValueString  ValueType = 8
	ValueArray   ValueType = 9
	ValueUint64  ValueType = 10
	ValueInt64   ValueType = 11
	ValueFloat64 ValueType = 12
)

var valueTypeNames = [...]string{"uint8", "int8", "uint16", "int16", "uint32", "int32", "float32", "bool", "string", "array", "uint64", "int64", "float64"}

// String returns the GGUF name of the value type.
func (v ValueType) String() string {
	if int(v) < len(valueTypeNames) {
		return valueTypeNames[v]
	}
	return fmt.Sprintf("valuetype(%d)", uint32(v))
}

// fixedSize returns the encoded size of a scalar of type v, or 0 for strings and arrays.
func (v ValueType) fixedSize() int {
	switch v {
	case ValueUint8, ValueInt8, ValueBool:
		return 1
	case ValueUint16, ValueInt16:
		return 2
	case ValueUint32, ValueInt32, ValueFloat32:
		return 4
	case ValueUint64, ValueInt64, ValueFloat64:
		return 8
	}
	return 0
}

// Array is a GGUF array value. Values holds a typed slice matching Type: []uint8, []int8,
// []uint16, []int16, []uint32, []int32, []float32, []bool, []string, []Array, []uint64, []int64
// or []float64.
type Array struct {
	Type   ValueType
	Values any
}

// Len returns the number of elements.
func (a Array) Len() int {
	switch v := a.Values.(type) {
	case []uint8:
		return len(v)
	case []int8:
		return len(v)
	case []uint16:
		return len(v)
	case []int16:
		return len(v)
	case []uint32:
		return len(v)
	case []int32:
		return len(v)
	case []float32:
		return len(v)
	case []bool:
		return len(v)
	case []string:
		return len(v)
	case []Array:
		return len(v)
	case []uint64:
		return len(v)
	case []int64:
		return len(v)
	case []float64:
		return len(v)
	}
	return 0
}

// KV is one metadata key-value pair. Value holds a Go value whose type determines the GGUF type
// written: uint8, int8, uint16, int16, uint32, int32, float32, bool, string, Array, uint64, int64
// or float64.
type KV struct {
	Key   string
	Value any
}

// TypeOf returns the GGUF type of a metadata value, or an error if the Go type has none.
func TypeOf(v any) (ValueType, error) {
	switch v.(type) {
	case uint8:
		return ValueUint8, nil
	case int8:
		return ValueInt8, nil
	case uint16:
		return ValueUint16, nil
	case int16:
		return ValueInt16, nil
	case uint32:
		return ValueUint32, nil
	case int32:
		return ValueInt32, nil
	case float32:
		return ValueFloat32, nil
	case bool:
		return ValueBool, nil
	case string:
		return ValueString, nil
	case Array:
		return ValueArray, nil
	case uint64:
		return ValueUint64, nil
	case int64:
		return ValueInt64, nil
	case float64:
		return ValueFloat64, nil
	}
	return 0, fmt.Errorf("gguf: no metadata type for Go type %T", v)
}

// Metadata is an ordered list of key-value pairs with typed accessors. Accessors never panic:
// they report false when the key is missing or its value has an incompatible type.
type Metadata []KV

// Lookup returns the value stored under key.
func (m Metadata) Lookup(key string) (any, bool) {
	for i := range m {
		if m[i].Key == key {
			return m[i].Value, true
		}
	}
	return nil, false
}

// Has reports whether key is present.
func (m Metadata) Has(key string) bool { _, ok := m.Lookup(key); return ok }

// String returns a string value.
func (m Metadata) String(key string) (string, bool) {
	v, ok := m.Lookup(key)
	if !ok {
		return "", false
	}
	s, ok := v.(string)
	return s, ok
}

// Uint returns a non-negative integer value of any integer type.
func (m Metadata) Uint(key string) (uint64, bool) {
	v, ok := m.Lookup(key)
	if !ok {
		return 0, false
	}
	return toUint(v)
}

// Int returns an integer value of any integer type that fits in int64.
func (m Metadata) Int(key string) (int64, bool) {
	v, ok := m.Lookup(key)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case int8:
		return int64(x), true
	case int16:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	}
	u, ok := toUint(v)
	if !ok || u > math.MaxInt64 {
		return 0, false
	}
	return int64(u), true
}

// Float returns a floating-point value (float32 widened exactly) or an integer as float64.
func (m Metadata) Float(key string) (float64, bool) {
	v, ok := m.Lookup(key)
	if !ok {
		return 0, false
	}
	switch x := v.(type) {
	case float32:
		return float64(x), true
	case float64:
		return x, true
	}
	if i, ok := m.Int(key); ok {
		return float64(i), true
	}
	return 0, false
}

// Bool returns a boolean value.
func (m Metadata) Bool(key string) (bool, bool) {
	v, ok := m.Lookup(key)
	if !ok {
		return false, false
	}
	b, ok := v.(bool)
	return b, ok
}

// Array returns an array value.
func (m Metadata) Array(key string) (Array, bool) {
	v, ok := m.Lookup(key)
	if !ok {
		return Array{}, false
	}
	a, ok := v.(Array)
	return a, ok
}

// Strings returns an array of strings.
func (m Metadata) Strings(key string) ([]string, bool) {
	a, ok := m.Array(key)
	if !ok {
		return nil, false
	}
	s, ok := a.Values.([]string)
	return s, ok
}

// Float32s returns an array of float32.
func (m Metadata) Float32s(key string) ([]float32, bool) {
	a, ok := m.Array(key)
	if !ok {
		return nil, false
	}
	f, ok := a.Values.([]float32)
	return f, ok
}

// Int32s returns an array of int32.
func (m Metadata) Int32s(key string) ([]int32, bool) {
	a, ok := m.Array(key)
	if !ok {
		return nil, false
	}
	f, ok := a.Values.([]int32)
	return f, ok
}

// Set replaces the value of key, or appends the pair if key is absent.
func (m *Metadata) Set(key string, value any) {
	for i := range *m {
		if (*m)[i].Key == key {
			(*m)[i].Value = value
			return
		}
	}
	*m = append(*m, KV{key, value})
}

// Delete removes key if present.
func (m *Metadata) Delete(key string) {
	for i := range *m {
		if (*m)[i].Key == key {
			*m = append((*m)[:i], (*m)[i+1:]...)
			return
		}
	}
}

func toUint(v any) (uint64, bool) {
	switch x := v.(type) {
	case uint8:
		return uint64(x), true
	case uint16:
		return uint64(x), true
	case uint32:
		return uint64(x), true
	case uint64:
		return x, true
	case int8:
		return uint64(x), x >= 0
	case int16:
		return uint64(x), x >= 0
	case int32:
		return uint64(x), x >= 0
	case int64:
		return uint64(x), x >= 0
	}
	return 0, false
}
