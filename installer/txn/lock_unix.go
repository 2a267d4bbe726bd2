//go:build unix

package txn

import (
	"errors"
	"os"
	"syscall"
)

// flock is an advisory lock (flock(2)) on a directory, held by an open
// descriptor: the kernel drops it when its process dies, however it dies.
type flock struct{ f *os.File }

// errLocked is a lock another open descriptor holds.
var errLocked = errors.New("locked")

// tryLock takes dir's lock, exclusive or shared, without waiting.
func tryLock(dir string, exclusive bool) (*flock, error) {
	f, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	how := syscall.LOCK_SH
	if exclusive {
		how = syscall.LOCK_EX
	}
	for {
		err = syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB)
		if err != syscall.EINTR {
			break
		}
	}
	if err != nil {
		f.Close()
		if err == syscall.EWOULDBLOCK {
			return nil, errLocked
		}
		return nil, err
	}
	return &flock{f}, nil
}

func (l *flock) unlock() {
	if l != nil && l.f != nil {
		l.f.Close() // closing the last descriptor drops the lock
		l.f = nil
	}
}
