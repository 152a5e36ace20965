package main

import "golang.org/x/sys/unix"

// cpuName asks macOS for the processor's brand string ("Apple M2").
func cpuName() string {
	s, err := unix.Sysctl("machdep.cpu.brand_string")
	if err != nil {
		return ""
	}
	return s
}
