//go:build !unix

package txn

import (
	"errors"
	"os"
)

// flock stands in for flock(2) where it does not exist: there, the guard
// against a concurrent run and the telling of a live run's stash from a
// killed one's are absent (every stash is taken for a killed run's).
type flock struct{}

var errLocked = errors.New("locked")

func tryLock(dir string, exclusive bool) (*flock, error) {
	if _, err := os.Stat(dir); err != nil {
		return nil, err
	}
	return &flock{}, nil
}

func (l *flock) unlock() {}
