// Package parallel runs independent pieces of file work (hashing,
// reading archives) on the machine's cores. It trusts its callers to
// keep each piece's result in a slot of its own.
package parallel

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// Each runs f(0) … f(n-1) on at most GOMAXPROCS goroutines and returns
// when all have returned; with one worker, in order on the caller's.
func Each(n int, f func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				f(i)
			}
		}()
	}
	wg.Wait()
}
