// Package hashcopy copies a stream while hashing it, reading in one
// goroutine and hashing and writing in another, in bounded memory. It
// trusts nothing it reads: it only moves and hashes bytes, and reports the
// first error of either side.
package hashcopy

import (
	"hash"
	"io"
)

// pipeBufs and pipeBufSize bound the memory of Copy: 4 buffers of
// 256 KiB in flight, whatever the asset's size.
const (
	pipeBufs    = 4
	pipeBufSize = 256 << 10
)

// Copy copies src to dst and feeds every byte copied to h, like
// io.Copy(io.MultiWriter(dst, h), src), but reads in one goroutine while
// another hashes and writes: reading from the network (TLS decryption) and
// SHA-256 each take a core's second per GiB, and overlap here. It returns
// the bytes written to dst (all of which were hashed) and the first error
// of either side; it stops reading once the writer has failed.
func Copy(dst io.Writer, h hash.Hash, src io.Reader) (int64, error) {
	free := make(chan []byte, pipeBufs)
	for range pipeBufs {
		free <- make([]byte, pipeBufSize)
	}
	full := make(chan []byte, pipeBufs)
	failed := make(chan struct{})
	var written int64
	var werr error
	wrote := make(chan struct{})
	go func() {
		defer close(wrote)
		for b := range full {
			if werr == nil {
				h.Write(b)
				var n int
				n, werr = dst.Write(b)
				written += int64(n)
				if werr == nil && n < len(b) {
					werr = io.ErrShortWrite
				}
				if werr != nil {
					close(failed)
				}
			}
			free <- b[:cap(b)]
		}
	}()
	var rerr error
read:
	for {
		var b []byte
		select {
		case b = <-free:
		case <-failed:
			break read
		}
		n, err := io.ReadFull(src, b)
		if n > 0 {
			full <- b[:n]
		} else {
			free <- b
		}
		if err == io.EOF || err == io.ErrUnexpectedEOF {
			break
		}
		if err != nil {
			rerr = err
			break
		}
	}
	close(full)
	<-wrote
	if werr != nil {
		return written, werr
	}
	return written, rerr
}
