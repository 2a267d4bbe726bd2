//go:build unix

package pip

import (
	"os"
	"os/exec"
	"syscall"
)

// newProcessGroup puts the interpreter in a process group of its own, so
// that pip's children (build backends, git) can be told to stop with it,
// and (on Linux) has the kernel kill it when pipguard dies: a pipguard
// killed with SIGKILL must not leave pip writing into the environment that
// the next run restores from the journal.
func newProcessGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	dieWithParent(cmd.SysProcAttr)
}

// interruptGroup sends SIGINT to the process group: pip stops as it does on
// Ctrl-C, undoing the uninstall it is in the middle of.
func interruptGroup(p *os.Process) {
	if p != nil {
		syscall.Kill(-p.Pid, syscall.SIGINT)
	}
}

// killGroup ends the process group.
func killGroup(p *os.Process) {
	if p != nil {
		syscall.Kill(-p.Pid, syscall.SIGKILL)
	}
}
