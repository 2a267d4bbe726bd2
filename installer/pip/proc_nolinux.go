//go:build unix && !linux

package pip

import "syscall"

// dieWithParent: only Linux has a parent-death signal; elsewhere a killed
// pipguard's pip runs to its end, and the next run recovers after it.
func dieWithParent(*syscall.SysProcAttr) {}
