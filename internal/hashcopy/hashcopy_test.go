package hashcopy

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"math/rand/v2"
	"testing"
	"testing/iotest"
)

// Copy writes and hashes exactly what it reads, whatever the sizes
// of the reads (a TLS stream hands out odd pieces).
func TestCopyHashingCopiesAndHashesEverything(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, size := range []int{0, 1, pipeBufSize - 1, pipeBufSize, pipeBufSize + 1, pipeBufs * pipeBufSize, 3*pipeBufs*pipeBufSize + 12345} {
		data := make([]byte, size)
		for i := range data {
			data[i] = byte(rng.Uint32())
		}
		for name, src := range map[string]io.Reader{
			"whole":    bytes.NewReader(data),
			"one byte": iotest.OneByteReader(bytes.NewReader(data)),
			"half":     iotest.HalfReader(bytes.NewReader(data)),
		} {
			if name == "one byte" && size > 2*pipeBufSize {
				continue
			}
			var dst bytes.Buffer
			h := sha256.New()
			n, err := Copy(&dst, h, src)
			want := sha256.Sum256(data)
			if err != nil || n != int64(size) || !bytes.Equal(dst.Bytes(), data) || !bytes.Equal(h.Sum(nil), want[:]) {
				t.Errorf("%d bytes, %s reads: n=%d err=%v, copy equal %v, hash equal %v", size, name, n, err, bytes.Equal(dst.Bytes(), data), bytes.Equal(h.Sum(nil), want[:]))
			}
		}
	}
}

// A read error ends the copy with that error, after writing what arrived
// before it.
func TestCopyHashingReadError(t *testing.T) {
	boom := errors.New("connection reset")
	src := io.MultiReader(bytes.NewReader(make([]byte, pipeBufSize+10)), iotest.ErrReader(boom))
	var dst bytes.Buffer
	n, err := Copy(&dst, sha256.New(), src)
	if !errors.Is(err, boom) || n != pipeBufSize+10 || dst.Len() != pipeBufSize+10 {
		t.Errorf("n=%d err=%v written=%d", n, err, dst.Len())
	}
}

type failingWriter struct{ after int }

func (w *failingWriter) Write(p []byte) (int, error) {
	if w.after <= 0 {
		return 0, errors.New("no space left on device")
	}
	w.after--
	return len(p), nil
}

type countingReader struct{ n int64 }

func (r *countingReader) Read(p []byte) (int, error) {
	r.n += int64(len(p))
	return len(p), nil
}

// A write error (a full disk) ends the copy with that error, and reading
// stops: an endless body is not read to its end.
func TestCopyHashingWriteErrorStopsReading(t *testing.T) {
	src := &countingReader{}
	n, err := Copy(&failingWriter{after: 2}, sha256.New(), src)
	if err == nil || err.Error() != "no space left on device" || n != 2*pipeBufSize {
		t.Errorf("n=%d err=%v", n, err)
	}
	if max := int64(2*pipeBufs+3) * pipeBufSize; src.n > max {
		t.Errorf("read %d bytes after the writer failed; at most %d expected", src.n, max)
	}
}

// A short write is an error, never a silent loss.
func TestCopyHashingShortWrite(t *testing.T) {
	_, err := Copy(shortWriter{}, sha256.New(), bytes.NewReader(make([]byte, 10)))
	if !errors.Is(err, io.ErrShortWrite) {
		t.Errorf("err = %v", err)
	}
}

type shortWriter struct{}

func (shortWriter) Write(p []byte) (int, error) { return len(p) / 2, nil }

// BenchmarkCopyHashing is the download pipeline's own speed, from memory
// to a discarding writer: the ceiling on what pipguard adds per GiB.
func BenchmarkCopyHashing(b *testing.B) {
	data := make([]byte, 64<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		Copy(io.Discard, sha256.New(), bytes.NewReader(data))
	}
}

// BenchmarkCopyMultiWriter is the single-goroutine copy it replaced.
func BenchmarkCopyMultiWriter(b *testing.B) {
	data := make([]byte, 64<<20)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		io.Copy(io.MultiWriter(io.Discard, sha256.New()), bytes.NewReader(data))
	}
}
