package main

import (
	"encoding/json"
	"os"
	goruntime "runtime"
	"strings"
	"sync"
)

// MarshalJSON writes the row with the machine it was measured on: this one (hostCPU, GOOS,
// GOARCH) unless the row already names one.
func (r benchRow) MarshalJSON() ([]byte, error) {
	type plain benchRow // without this method
	p := plain(r)
	if p.OS == "" {
		p.CPU, p.OS, p.Arch = hostCPU(), goruntime.GOOS, goruntime.GOARCH
	}
	return json.Marshal(p)
}

// hostCPU names this machine's processor, or "" when the system does not say.
var hostCPU = sync.OnceValue(func() string { return cpuName() })

// cpuInfoName reads the processor's name from the text of Linux's /proc/cpuinfo: the "model
// name" of x86 and of some Arm kernels, else "Hardware" (older Android kernels), else the Arm
// implementer and part numbers ("CPU implementer 0x41 part 0xd0b"), which identify the core.
func cpuInfoName(cpuinfo string) string {
	fields := map[string]string{}
	for line := range strings.Lines(cpuinfo) {
		k, v, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if _, seen := fields[k]; !seen && v != "" {
			fields[k] = v
		}
	}
	switch {
	case fields["model name"] != "":
		return fields["model name"]
	case fields["Hardware"] != "":
		return fields["Hardware"]
	case fields["CPU implementer"] != "":
		return "CPU implementer " + fields["CPU implementer"] + " part " + fields["CPU part"]
	}
	return ""
}

// readCPUInfo returns /proc/cpuinfo's text, or "" where there is none.
func readCPUInfo() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return ""
	}
	return string(b)
}
