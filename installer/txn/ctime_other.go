//go:build !linux

package txn

import "os"

// changedSinceStart says whether p changed since the transaction began; on
// systems where the inode change time is not read here, the modification
// time stands in for it.
func (t *Txn) changedSinceStart(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil {
		return false
	}
	return !fi.ModTime().Before(t.start)
}
