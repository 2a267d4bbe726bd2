package installer

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestHermeticLockRecordsWhatWasVerified: pipguard lock records, for a
// guarded release, what a later install requires again (sha256sums,
// release-immutable, the build's commit, the repository's id); a lock
// whose repository-id is not the release's is refused, even from DIR as
// fetched; an index file whose provenance DIR replaced by fetch's "none"
// record is installed unattested, and says DIR holds no provenance.
func TestHermeticLockRecordsWhatWasVerified(t *testing.T) {
	w := newHermeticWorld(t)
	for _, want := range []string{`"sha256sums"`, `"release-immutable"`, `build-commit = "`, `repository-id = `} {
		if !strings.Contains(w.lockData, want) {
			t.Errorf("the lock lacks %s:\n%s", want, w.lockData)
		}
	}
	re := regexp.MustCompile(`repository-id = \d+`)
	lock := filepath.Join(t.TempDir(), "pylock.toml")
	os.WriteFile(lock, []byte(re.ReplaceAllString(w.lockData, "repository-id = 424242")), 0o644)
	if _, err := w.install(t, w.files, lock); err == nil || !strings.Contains(err.Error(), "the lock records 424242") {
		t.Errorf("a lock naming another repository id: %v", err)
	}

	files := w.copyFiles(t, func(dir string) {
		p := w.plainWheel(t, dir)
		os.Remove(p + ".provenance")
		os.WriteFile(p+noProvenanceSuffix, []byte("its index publishes none\n"), 0o644)
	})
	// The lock records plain's identities: its provenance is required.
	if _, err := w.install(t, files, w.lockPath); err == nil || !strings.Contains(err.Error(), "holds no provenance (not checked offline") {
		t.Errorf("a lock with identities, DIR with no provenance: %v", err)
	}
}
