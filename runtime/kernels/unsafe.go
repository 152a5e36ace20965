package kernels

import "unsafe"

// unsafePointer converts a byte pointer for assembly routines that read it as another type.
func unsafePointer(b *byte) unsafe.Pointer { return unsafe.Pointer(b) }
