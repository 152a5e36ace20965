//go:build !darwin

package main

// cpuName reads the processor's name from /proc/cpuinfo (Linux, Android); "" elsewhere.
func cpuName() string { return cpuInfoName(readCPUInfo()) }
