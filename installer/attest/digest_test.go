package attest

import (
	"crypto/sha256"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

func TestArtifactFromDigest(t *testing.T) {
	good := "sha256:" + strings.Repeat("Ab", 32)
	a, err := ArtifactFromDigest(good)
	if err != nil || a.Digests()["sha256"] != strings.Repeat("ab", 32) {
		t.Fatalf("%v %v", a, err)
	}
	for _, bad := range []string{"", "sha256", "md5:00", "sha256:" + strings.Repeat("a", 63), "sha256:" + strings.Repeat("g", 64), "sha512:" + strings.Repeat("a", 64)} {
		if _, err := ArtifactFromDigest(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if _, err := a.Digest("sha512"); err == nil {
		t.Error("a bare sha256 digest produced a sha512 digest")
	}
}

// BenchmarkHashFile1GiB hashes a 1 GiB file and reports throughput and the
// process's peak RSS (maxrss), which must stay far below the file size:
// the file is streamed, never read whole. Compare with
// "sha256sum" on a file of the same size (make bench does both).
func BenchmarkHashFile1GiB(b *testing.B) {
	const size = 1 << 30
	path := filepath.Join(b.TempDir(), "big.whl")
	f, err := os.Create(path)
	if err != nil {
		b.Fatal(err)
	}
	buf := make([]byte, 1<<20)
	for i := range buf {
		buf[i] = byte(i * 7)
	}
	for written := 0; written < size; written += len(buf) {
		if _, err := f.Write(buf); err != nil {
			b.Fatal(err)
		}
	}
	f.Close()
	b.SetBytes(size)
	b.ResetTimer()
	for b.Loop() {
		if _, n, err := HashFile(path, sha256.New()); err != nil || n != size {
			b.Fatal(n, err)
		}
	}
	b.StopTimer()
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err == nil {
		b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
	}
}
