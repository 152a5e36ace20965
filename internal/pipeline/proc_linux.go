package pipeline

import (
	"os/exec"
	"syscall"
)

// setDeathSignal has the kernel kill a step's process when the pipeline dies (SIGKILL
// included), so that no orphan keeps writing into the run folder a rerun is using.
func setDeathSignal(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
