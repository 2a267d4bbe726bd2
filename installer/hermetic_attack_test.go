package installer

// Attacks on hermetic installs (pipguard install --files DIR pylock.toml)
// by whoever can write DIR but not the lock nor pipguard. Each test is
// written to FAIL while the weakness it demonstrates is there: it asserts
// what should hold.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"github.com/pipguard/pipguard/installer/attest"
	"github.com/pipguard/pipguard/installer/github"
	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/githubtest"
	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/policy"
)

// plainWheel is the fetched directory's path of the index wheel plain.
func (w *hermeticWorld) plainWheel(t *testing.T, dir string) string {
	t.Helper()
	for _, f := range w.fetched.Files {
		if f.Name == "plain" {
			return filepath.Join(dir, filepath.Base(f.File))
		}
	}
	t.Fatal("no plain in the fetch")
	return ""
}

// installAsync runs a hermetic install in a goroutine, using t only
// through the returned channel (so a hung install never touches t after
// the test ended).
func (w *hermeticWorld) installAsync(t *testing.T, files, lock string) (<-chan error, string) {
	t.Helper()
	py := pkgtest.NewVenv(t)
	done := make(chan error, 1)
	go func() {
		var out bytes.Buffer
		_, err := InstallLockFile(context.Background(), Config{GitHubURL: w.gh.URL()}, InstallOptions{Python: py, Trust: attest.TrustFromDir(files, w.tuf), Output: &out}, LockFile{Path: lock, From: files})
		done <- err
	}()
	return done, py
}

// TestAttackHermeticLockedFileIsTheDirectorysInode: install --files
// "copies" each file of DIR into pipguard's private directory with
// copyHashed, which hard-links first (os.Link). The file pip installs is
// then the same inode as DIR/NAME: whoever can write DIR can rewrite the
// bytes after pipguard hashed them. With inotify on DIR/NAME (events on
// the inode are seen whichever name reads it) the attacker times three
// writes: the lock's bytes when pipguard hashes the file and when pip
// checks --require-hashes, its own bytes when pipguard plans the wheel
// (layout.Open, whose hash is never compared with the lock's) and when
// pip unpacks it. The check stage then compares the disk with the plan of
// the attacker's wheel, and finds nothing.
func TestAttackHermeticLockedFileIsTheDirectorysInode(t *testing.T) {
	w := newHermeticWorld(t)
	files := w.copyFiles(t, nil)
	path := w.plainWheel(t, files)
	good, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	evil := sameSize(t, pkgtest.Project{Name: "plain", Version: "1.0", Files: map[string]string{"plain/__init__.py": "VERSION='pwned'\n"}}.Wheel(), len(good))

	fd, err := syscall.InotifyInit1(syscall.IN_CLOEXEC)
	if err != nil {
		t.Skipf("no inotify: %v", err)
	}
	if _, err := syscall.InotifyAddWatch(fd, path, syscall.IN_CLOSE_NOWRITE|syscall.IN_OPEN); err != nil {
		t.Fatal(err)
	}
	// The attacker: after the n-th read of the file ends, write plan[n]
	// over it, in place (one pwrite of the same size: no reader sees a
	// torn file). The reads: 1 pipguard hashes it (copyHashed), 2 pipguard
	// plans it (layout.Open), 3 pip checks --require-hashes, 4 pip hashes
	// it for its report's download_info, then pip reads its metadata and
	// unpacks it.
	plan := map[int][]byte{1: evil, 2: good, 4: evil}
	var mu sync.Mutex
	var log []string
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		buf := make([]byte, 4096)
		closes, writing := 0, false
		for {
			n, err := syscall.Read(fd, buf)
			if err != nil || n <= 0 {
				return
			}
			for off := 0; off+syscall.SizeofInotifyEvent <= n; {
				ev := (*syscall.InotifyEvent)(unsafe.Pointer(&buf[off]))
				off += syscall.SizeofInotifyEvent + int(ev.Len)
				if writing {
					continue
				}
				switch {
				case ev.Mask&syscall.IN_OPEN != 0:
					mu.Lock()
					log = append(log, "open")
					mu.Unlock()
				case ev.Mask&syscall.IN_CLOSE_NOWRITE != 0:
					closes++
					mu.Lock()
					log = append(log, fmt.Sprintf("close#%d", closes))
					mu.Unlock()
					if data, ok := plan[closes]; ok {
						// In place: the same inode, seen through every link.
						writing = true
						f, err := os.OpenFile(path, os.O_WRONLY, 0)
						if err == nil {
							f.WriteAt(data, 0)
							f.Close()
						}
						writing = false
						mu.Lock()
						log = append(log, fmt.Sprintf("wrote %d bytes", len(data)))
						mu.Unlock()
					}
				}
			}
		}
	}()
	done, py := w.installAsync(t, files, w.lockPath)
	var ierr error
	select {
	case ierr = <-done:
	case <-time.After(3 * time.Minute):
		t.Fatal("install did not return")
	}
	syscall.Close(fd)
	mu.Lock()
	t.Logf("reads of DIR/%s seen by the attacker: %s", filepath.Base(path), strings.Join(log, ", "))
	mu.Unlock()
	out, _ := exec.Command(py, "-c", "import plain; print(plain.VERSION)").CombinedOutput()
	got := strings.TrimSpace(string(out))
	t.Logf("install: %v; plain.VERSION: %s", ierr, got)
	if ierr == nil && got == "pwned" {
		t.Fatalf("ATTACK: a hermetic install installed a plain wheel the lock's sha256 does not vouch for (plain.VERSION = %s): the locked file is DIR's inode (copyHashed hard-links it), so DIR's writer rewrote it after pipguard hashed it", got)
	}
	// Even when the race is lost, the primitive is there.
	// (install --files reads DIR with copyFromDir; copyHashed links
	// pipguard's own files, never DIR's.)
	w2 := filepath.Join(t.TempDir(), "private")
	root, err := os.OpenRoot(files)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := copyFromDir(root, filepath.Base(path), w2, nil); err != nil {
		t.Fatal(err)
	}
	a, _ := os.Stat(path)
	b, _ := os.Stat(w2)
	if os.SameFile(a, b) {
		t.Errorf("ATTACK primitive: copyHashed(DIR/%s, private) makes the private file DIR's own inode (hard link): DIR's writer can change the bytes pip installs after they were hashed", filepath.Base(path))
	}
}

// sameSize pads the zip archive b with an archive comment to n bytes.
func sameSize(t *testing.T, b []byte, n int) []byte {
	t.Helper()
	pad := n - len(b)
	if pad < 0 || pad > 0xffff || len(b) < 22 || !bytes.Equal(b[len(b)-22:len(b)-18], []byte("PK\x05\x06")) {
		t.Fatalf("cannot pad %d bytes to %d", len(b), n)
	}
	out := append([]byte{}, b...)
	out[len(out)-2], out[len(out)-1] = byte(pad), byte(pad>>8)
	return append(out, bytes.Repeat([]byte{' '}, pad)...)
}

// TestAttackHermeticSymlinkInDirReadsOutsideIt: a file of DIR that is a
// symlink is followed (copyHashed's os.Link links the symlink itself, so
// pipguard's private "copy" is a symlink to wherever the attacker points,
// resolved again by every later reader: the plan, pip). The README says
// the install reads only DIR.
func TestAttackHermeticSymlinkInDirReadsOutsideIt(t *testing.T) {
	w := newHermeticWorld(t)
	outside := filepath.Join(t.TempDir(), "elsewhere.whl")
	files := w.copyFiles(t, func(dir string) {
		p := w.plainWheel(t, dir)
		b, _ := os.ReadFile(p)
		os.WriteFile(outside, b, 0o644)
		os.Remove(p)
		os.Symlink(outside, p)
	})
	_, err := w.install(t, files, w.lockPath)
	if err == nil {
		t.Errorf("ATTACK: DIR/%s is a symlink to %s, outside DIR, and the install read it and installed from it", filepath.Base(w.plainWheel(t, files)), outside)
	}
	// The private copy copyHashed makes of a symlink is a symlink.
	// (install --files reads DIR with copyFromDir, which must refuse it.)
	priv := filepath.Join(t.TempDir(), "private.whl")
	root, err := os.OpenRoot(files)
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	if _, err := copyFromDir(root, filepath.Base(w.plainWheel(t, files)), priv, nil); err == nil {
		t.Errorf("ATTACK primitive: copyFromDir copied DIR's symlink to %s", outside)
	} else if !strings.Contains(err.Error(), "symbolic link") {
		t.Errorf("copyFromDir refused the symlink without saying so: %v", err)
	}
	if fi, err := os.Lstat(priv); err == nil && fi.Mode()&os.ModeSymlink != 0 {
		target, _ := os.Readlink(priv)
		t.Errorf("ATTACK primitive: pipguard's private copy of DIR's file is a symlink to %s, which pip and the plan resolve again later", target)
	}
}

// TestAttackHermeticSpecialFilesHangTheInstall: a FIFO in DIR in place
// of a locked wheel, of the release record or of TUF metadata blocks the
// install forever (open(2) of a FIFO waits for a writer; nothing checks
// that DIR's files are regular files, and no read is bounded: a symlink to
// /dev/zero instead spins (wheel: hashed with no size limit) or exhausts
// memory (record.json, *.provenance and TUF files are read whole by
// os.ReadFile before any size check)). Not run here with /dev/zero: it
// would take the machine's memory.
func TestAttackHermeticSpecialFilesHangTheInstall(t *testing.T) {
	w := newHermeticWorld(t)
	for _, c := range []struct {
		name string
		path func(dir string) string
	}{
		{"the locked wheel", func(dir string) string { return w.plainWheel(t, dir) }},
		{"the wheel's provenance", func(dir string) string { return w.plainWheel(t, dir) + ".provenance" }},
		{"the release record", func(dir string) string { return w.record(t, dir) }},
		{"TUF timestamp.json", func(dir string) string {
			return filepath.Join(attest.TUFDir(dir, attest.PublicGood), "timestamp.json")
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var fifo string
			files := w.copyFiles(t, func(dir string) {
				fifo = c.path(dir)
				os.Remove(fifo)
				if err := syscall.Mkfifo(fifo, 0o644); err != nil {
					t.Fatal(err)
				}
			})
			done, _ := w.installAsync(t, files, w.lockPath)
			select {
			case err := <-done:
				if err == nil {
					t.Error("installed")
				}
				t.Logf("refused: %v", err)
			case <-time.After(20 * time.Second):
				t.Errorf("ATTACK: a FIFO at %s hangs the hermetic install (no answer after 20s)", strings.TrimPrefix(fifo, files+"/"))
				// Let it go: a writer that closes at once gives EOF.
				for range 4 {
					if f, err := os.OpenFile(fifo, os.O_WRONLY|syscall.O_NONBLOCK, 0); err == nil {
						f.Close()
					}
					select {
					case <-done:
						return
					case <-time.After(2 * time.Second):
					}
				}
				<-done
			}
		})
	}
}

// guarded returns the hermetic install's report of demo's release.
func guardedDemo(t *testing.T, rep *InstallReport) *Guarded {
	t.Helper()
	for _, g := range rep.Guarded {
		if g.Name == "demo" {
			return g
		}
	}
	t.Fatalf("no guarded demo in %+v", rep.Guarded)
	return nil
}

// TestAttackHermeticRecordDropsTheChecksums: the recorded release is
// unsigned JSON in DIR. Removing SHA256SUMS from its asset list turns the
// sha256sums check from Pass (as fetched, as online) into NotChecked, and
// the install goes on: a weaker verification than an online install of the
// same lock, which GitHub's real release listing would give.
func TestAttackHermeticRecordDropsTheChecksums(t *testing.T) {
	w := newHermeticWorld(t)
	files := w.copyFiles(t, func(dir string) {
		w.editRecord(t, dir, func(r *releaseRecord) {
			var keep []github.Asset
			for _, a := range r.Release.Assets {
				if !strings.Contains(strings.ToUpper(a.Name), "SHA256SUMS") {
					keep = append(keep, a)
				}
			}
			r.Release.Assets = keep
		})
	})
	rep, err := w.install(t, files, w.lockPath)
	if err != nil {
		t.Logf("refused: %v", err)
		return
	}
	g := guardedDemo(t, rep)
	c := check(t, g.Release.Asset(w.v2.Wheel.Name).Decision, "sha256sums")
	if c.Outcome != policy.Pass {
		t.Errorf("ATTACK: with SHA256SUMS removed from the recorded release, the hermetic install succeeds with sha256sums %s (%s); fetched and online it is pass", c.Outcome, c.Reason)
	}
}

// TestAttackHermeticMutableClaimSkipsTheReleaseAttestation: a lock whose
// record does not list the release attestation as verified (a lock from
// before pipguard recorded it, or whose release attestation did not
// verify then but the release is immutable) is verified online with the
// release attestation required, since GitHub says the release is
// immutable. From DIR, the release's immutability is the recording's
// unsigned word: "immutable": false makes the check "not checked".
func TestAttackHermeticMutableClaimSkipsTheReleaseAttestation(t *testing.T) {
	w := newHermeticWorld(t)
	re := regexp.MustCompile(`,?\s*"https://in-toto\.io/attestation/release/v0\.[12]"`)
	if !re.MatchString(w.lockData) {
		t.Fatalf("the lock records no release attestation:\n%s", w.lockData)
	}
	lockData := re.ReplaceAllString(w.lockData, "")
	lockData = strings.ReplaceAll(lockData, "[, ", "[")
	lock := filepath.Join(t.TempDir(), "pylock.toml")
	os.WriteFile(lock, []byte(lockData), 0o644)

	// Baseline: the directory as fetched, with this lock: the release is
	// immutable, its release attestation is checked (as online).
	rep, err := w.install(t, w.files, lock)
	if err != nil {
		t.Fatalf("baseline: %v\n%s", err, lockData)
	}
	if c := check(t, guardedDemo(t, rep).Release.Asset(w.v2.Wheel.Name).Decision, "release-attestation"); c.Outcome != policy.Pass {
		t.Fatalf("baseline release attestation %+v", c)
	}
	files := w.copyFiles(t, func(dir string) {
		w.editRecord(t, dir, func(r *releaseRecord) { r.Release.Immutable = false })
	})
	rep, err = w.install(t, files, lock)
	if err != nil {
		t.Logf("refused: %v", err)
		return
	}
	c := check(t, guardedDemo(t, rep).Release.Asset(w.v2.Wheel.Name).Decision, "release-attestation")
	if c.Outcome != policy.Pass {
		t.Errorf("ATTACK: a recording that says the release is mutable makes the hermetic install skip the release attestation (%s: %s); online GitHub says immutable and it is required", c.Outcome, c.Reason)
	}
}

// TestAttackFetchIntoAPlantedDirectoryWritesOutsideIt: pipguard fetch
// into a directory someone else could write before (a shared cache that
// is fetched again, as the hints say: "fetch again ... DIR") follows the
// symlinks planted there: DIR/tuf -> elsewhere makes RecordTUF remove
// elsewhere/github and elsewhere/public-good (os.RemoveAll) and write
// there; DIR/NAME.provenance -> a file makes fetch overwrite that file
// (os.WriteFile follows the link); DIR/releases/.../record.json likewise.
func TestAttackFetchIntoAPlantedDirectoryWritesOutsideIt(t *testing.T) {
	w := newHermeticWorld(t)
	// DIR was planted before a (re-)fetch: DIR/tuf -> victim. fetch's
	// first step is RecordTUF(DIR) for each deployment, called here as
	// fetch calls it, with live TUF repositories.
	victim := t.TempDir()
	os.MkdirAll(filepath.Join(victim, "github"), 0o755)
	os.WriteFile(filepath.Join(victim, "github", "precious.txt"), []byte("mine"), 0o644)
	dir := filepath.Join(t.TempDir(), "files")
	os.MkdirAll(dir, 0o755)
	os.Symlink(victim, filepath.Join(dir, "tuf"))
	for d, r := range w.tufRepos {
		srv := r.Serve(t)
		o := w.tuf
		if d == attest.GitHub {
			o.GitHubURL = srv.URL
		} else {
			o.PublicGoodURL = srv.URL
		}
		if _, err := attest.RecordTUF(o, d, dir); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := os.Stat(filepath.Join(victim, "github", "precious.txt")); err != nil {
		t.Errorf("ATTACK: fetch into DIR with DIR/tuf -> %s removed %s/github (%v) and wrote TUF files there", victim, victim, err)
	}
}

// TestAttackHermeticProvenanceRemovedForALockWithoutIdentities: a lock
// that records no attestation identities (pip lock, uv, pdm write none)
// has its index files' provenance verified online whenever the index
// publishes it (for any publisher). From DIR, the provenance is whatever
// DIR holds: DIR's writer deletes FILENAME.provenance and the file is
// installed "not attested" with a warning, where online it is verified.
// (It can also plant a provenance it signed itself, over the same bytes,
// and the report names its identity as the publisher.)
func TestAttackHermeticProvenanceRemovedForALockWithoutIdentities(t *testing.T) {
	w := newHermeticWorld(t)
	l, err := pylock.Read(w.lockPath, []byte(w.lockData))
	if err != nil {
		t.Fatal(err)
	}
	for i := range l.Packages {
		l.Packages[i].AttestationIdentities = nil
	}
	data, err := pylock.Write(l)
	if err != nil {
		t.Fatal(err)
	}
	lock := filepath.Join(t.TempDir(), "pylock.toml")
	os.WriteFile(lock, data, 0o644)
	state := func(rep *InstallReport) string {
		for _, it := range rep.Lock {
			if it.Name == "plain" && it.Attestation != nil {
				return it.Attestation.State
			}
		}
		return "none"
	}
	rep, err := w.install(t, w.files, lock)
	if err != nil {
		t.Fatalf("baseline: %v", err)
	}
	if s := state(rep); s != AttestVerified {
		t.Fatalf("baseline: plain is %s", s)
	}
	files := w.copyFiles(t, func(dir string) { os.Remove(w.plainWheel(t, dir) + ".provenance") })
	rep, err = w.install(t, files, lock)
	if err != nil {
		t.Logf("refused: %v", err)
		return
	}
	if s := state(rep); s != AttestVerified {
		t.Errorf("ATTACK: with DIR's provenance removed, plain installs %q (warnings %q); fetched and online it is verified", s, rep.Warnings)
	}
}

// TestAttackHermeticForgedComparison: GitHub's compare answer is
// unsigned, and in a hermetic install it is the recording's: the distance
// between the commit the provenance says was built and the lock's commit
// is whatever DIR says. A lock made when max_commit_distance allowed 2
// (the build is 2 commits before the tag), installed under a policy that
// now allows 1, is refused online (GitHub says 2) and from the directory
// as fetched; with "ahead_by": 1 written into the record it installs.
func TestAttackHermeticForgedComparison(t *testing.T) {
	w := newInstallWorld(t)
	x := w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.0.0"}})
	w.publish(t, githubtest.Publish{Project: pkgtest.Project{Name: "demo", Version: "1.1.0"}, BumpCommit: true, SourceCommit: x.Commit, SourceRef: "refs/tags/v1.1.0"})
	o := InstallOptions{Requirements: []string{w.req("v1.1.0")}, PipArgs: []string{"--no-index"}, MaxCommitDistance: 2}
	o.Python, o.Trust, o.Output = w.python, w.trust, &w.out
	l, _, err := Lock(context.Background(), w.cfg, o)
	if err != nil {
		t.Fatalf("lock: %v\n%s", err, w.out.String())
	}
	data, _ := pylock.Write(l)
	lock := filepath.Join(t.TempDir(), "pylock.toml")
	os.WriteFile(lock, data, 0o644)
	dir := filepath.Join(t.TempDir(), "files")
	if _, err := FetchLockFile(context.Background(), w.cfg, InstallOptions{Python: w.python, Output: &w.out, Trust: w.trust, MaxCommitDistance: 2}, LockFile{Path: lock}, dir); err != nil {
		t.Fatalf("fetch: %v", err)
	}
	install := func(dir string) error {
		var out bytes.Buffer
		_, err := InstallLockFile(context.Background(), Config{GitHubURL: w.gh.URL()}, InstallOptions{Python: pkgtest.NewVenv(t), Trust: w.trust, Output: &out, MaxCommitDistance: 1}, LockFile{Path: lock, From: dir})
		return err
	}
	if err := install(dir); err == nil || !strings.Contains(err.Error(), "2 commit(s) before") {
		t.Fatalf("baseline (policy 1, distance 2): %v", err)
	}
	m, _ := filepath.Glob(filepath.Join(dir, "releases", "*", "*", "*", "*", "record.json"))
	if len(m) != 1 {
		t.Fatalf("records %v", m)
	}
	b, _ := os.ReadFile(m[0])
	var r releaseRecord
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	if len(r.Compare) == 0 {
		t.Fatal("no comparison recorded")
	}
	for k, c := range r.Compare {
		c.AheadBy = 1
		r.Compare[k] = c
	}
	b, _ = json.Marshal(r)
	os.WriteFile(m[0], b, 0o644)
	if err := install(dir); err == nil {
		t.Errorf("ATTACK: a comparison edited in DIR (ahead_by 2 -> 1) makes the hermetic install pass max_commit_distance = 1, which the same lock fails online")
	} else {
		t.Logf("refused: %v", err)
	}
}
