package pip

import "syscall"

// dieWithParent has the kernel send SIGKILL to the child when the thread
// that started it (pipguard) dies.
func dieWithParent(a *syscall.SysProcAttr) { a.Pdeathsig = syscall.SIGKILL }
