package main

import (
	"fmt"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	"github.com/spf13/cobra"

	"github.com/mcompress/mcompress/runtime/kernels"
)

func init() { register(newVersionCmd) }

// versionInfo is what `mcompress version` (and --version) reports.
type versionInfo struct {
	Module   string `json:"module"`
	Version  string `json:"version"`            // module version, "(devel)" for a source build
	Revision string `json:"revision,omitempty"` // VCS commit the binary was built from
	Time     string `json:"time,omitempty"`     // commit time
	Modified bool   `json:"modified"`           // built from a work tree with uncommitted changes
	Go       string `json:"go"`
	Platform string `json:"platform"`
	Kernels  string `json:"kernels"`
}

// buildVersion reads the version from the binary's build information.
func buildVersion() versionInfo {
	v := versionInfo{Module: "github.com/mcompress/mcompress", Version: "(unknown)", Go: goruntime.Version(),
		Platform: goruntime.GOOS + "/" + goruntime.GOARCH, Kernels: kernels.Describe()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Path != "" {
		v.Module = bi.Main.Path
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

// String formats v for people, one fact a line.
func (v versionInfo) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "mcompress %s\n", v.Version)
	fmt.Fprintf(&b, "module:  %s\n", v.Module)
	if v.Revision != "" {
		commit := v.Revision
		if v.Time != "" {
			commit += " (" + v.Time + ")"
		}
		if v.Modified {
			commit += ", with uncommitted changes"
		}
		fmt.Fprintf(&b, "commit:  %s\n", commit)
	} else {
		fmt.Fprintf(&b, "commit:  unknown (built without VCS information)\n")
	}
	fmt.Fprintf(&b, "go:      %s %s\n", v.Go, v.Platform)
	fmt.Fprintf(&b, "kernels: %s\n", v.Kernels)
	return b.String()
}

// newVersionCmd is `mcompress version`, the same as `mcompress --version`.
func newVersionCmd(g *globalOptions) *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the version, the commit it was built from, the Go version and the kernels in use",
		Long: `version prints the module version and the commit mcompress was built from (from the Go build
information), the Go version and platform, and the kernel set the runtime uses on this machine
(avx512, avx2 or purego, and which weight types have assembly dot products). mcompress --version
prints the same. Include it in bug reports.`,
		Example: `  mcompress version
  mcompress version --json`,
		Args: wantArgs(0, 0, ""),
		RunE: func(cmd *cobra.Command, _ []string) error {
			v := buildVersion()
			if g.json {
				return printJSON(v)
			}
			fmt.Print(v.String())
			return nil
		},
	}
}
