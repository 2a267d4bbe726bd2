package txn

import (
	"os"
	"syscall"
	"time"
)

// changedSinceStart says whether p's inode changed (was created, written,
// renamed or linked) since the transaction began.
func (t *Txn) changedSinceStart(p string) bool {
	fi, err := os.Lstat(p)
	if err != nil {
		return false
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return true
	}
	return !time.Unix(st.Ctim.Sec, st.Ctim.Nsec).Before(t.start)
}
