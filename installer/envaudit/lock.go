package envaudit

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pipguard/pipguard/installer/pylock"
	"github.com/pipguard/pipguard/internal/pep440"
	"github.com/pipguard/pipguard/pep610"
)

// Lock is what pipguard audit --lock holds an environment to: exactly the
// packages the lock selects for the audited interpreter.
type Lock struct {
	// File is the lock's path, as findings show it.
	File string
	// Lock is the lock, as pylock.Read returned it.
	Lock *pylock.Lock
	// Env is the audited interpreter's marker environment and tags.
	Env pylock.Environment
	// Extras and Groups are the extras and dependency groups selected
	// (nil Groups: the lock's default-groups), as pylock.Select takes
	// them.
	Extras, Groups []string
}

// Tools are the distributions a virtual environment is made with
// (python -m venv installs pip, and older Pythons setuptools; wheel is
// what builds need): installed but not in the lock, they are not
// lock-extra unless the lock names them in any package entry, for any
// environment, in which case the lock decides.
var Tools = []string{"pip", "setuptools", "wheel"}

// installed is one distribution as the lock comparison sees it.
type installed struct {
	name, version, path string
	du                  *pep610.DirectURL
	// receipt is pipguard's receipt when it is authenticated.
	receipt *pep610.Receipt
}

// lockFindings compares what is installed with what the lock selects for
// o.Lock.Env: every selected package installed at its version (lock-missing,
// lock-version), from the bytes the lock names as far as the disk records
// them (lock-hash: direct_url.json's archive hashes, a receipt's
// wheel_sha256, a VCS install's commit), and nothing else (lock-extra). A
// lock that is not for this environment at all is lock-environment, and
// nothing else is compared.
func lockFindings(dists []installed, o Options) []Finding {
	lk := o.Lock
	sel, err := lk.Lock.Select(lk.Env, lk.Extras, lk.Groups)
	if err != nil {
		var msgs []string
		if j, ok := err.(interface{ Unwrap() []error }); ok {
			for _, e := range j.Unwrap() {
				msgs = append(msgs, e.Error())
			}
		} else {
			msgs = []string{err.Error()}
		}
		return []Finding{newFinding("lock-environment", "", "", lk.File, lk.File+": "+strings.Join(msgs, "; "), o)}
	}
	byName := map[string][]installed{}
	for _, d := range dists {
		n := pep610.Normalize(d.name)
		byName[n] = append(byName[n], d)
	}
	var out []Finding
	locked := map[string]bool{}
	for _, s := range sel {
		p := s.Package
		locked[p.Name] = true
		where := fmt.Sprintf("%s packages[%d]", lk.File, s.Index)
		here := byName[p.Name]
		if len(here) == 0 {
			out = append(out, newFinding("lock-missing", p.Name, p.Version, lk.File,
				fmt.Sprintf("%s locks %s %s (%s), which is not installed", where, p.Name, orAny(p.Version), s.Kind), o))
			continue
		}
		match := -1
		for i, d := range here {
			if sameVersion(p.Version, d.version) {
				match = i
				break
			}
		}
		for i, d := range here {
			switch {
			case i == match:
				if msg := lockBytes(s, d); msg != "" {
					out = append(out, newFinding("lock-hash", d.name, d.version, d.path, where+": "+msg, o))
				}
			case match >= 0:
				out = append(out, newFinding("lock-extra", d.name, d.version, d.path,
					fmt.Sprintf("a second installation of %s, %s beside the locked %s (%s)", p.Name, d.version, p.Version, where), o))
			default:
				out = append(out, newFinding("lock-version", d.name, d.version, d.path,
					fmt.Sprintf("expected %s %s (%s), got %s", p.Name, p.Version, where, d.version), o))
			}
		}
	}
	named := map[string]bool{}
	for _, p := range lk.Lock.Packages {
		named[p.Name] = true
	}
	var extra []string
	for n := range byName {
		if !locked[n] {
			extra = append(extra, n)
		}
	}
	sort.Strings(extra)
	for _, n := range extra {
		if isTool(n) && !named[n] {
			continue
		}
		why := "the lock does not name it"
		if named[n] {
			why = "the lock names it, but not for this environment"
		}
		for _, d := range byName[n] {
			out = append(out, newFinding("lock-extra", d.name, d.version, d.path,
				fmt.Sprintf("%s %s is installed; %s (%s)", d.name, d.version, why, lk.File), o))
		}
	}
	return out
}

func isTool(name string) bool {
	for _, t := range Tools {
		if name == t {
			return true
		}
	}
	return false
}

func orAny(v string) string {
	if v == "" {
		return "(any version)"
	}
	return v
}

// sameVersion compares as PEP 440 does (1.0 is 1.0.0); a package the lock
// gives no version (a vcs or directory source may have none) matches any.
func sameVersion(locked, got string) bool {
	if locked == "" {
		return true
	}
	lv, err1 := pep440.Parse(locked)
	gv, err2 := pep440.Parse(got)
	if err1 != nil || err2 != nil {
		return locked == got
	}
	return lv.Compare(gv) == 0
}

// lockBytes says how the installed distribution's record of its source
// differs from the source the lock selected ("" when it agrees, or when the
// disk records nothing to compare: an index install has no direct_url.json,
// and its files are only checked against RECORD, by files-changed).
func lockBytes(s pylock.Selected, d installed) string {
	var hashes map[string]string
	what := ""
	switch s.Kind {
	case pylock.SourceWheel, pylock.SourceSdist:
		hashes, what = s.File.Hashes, s.File.Filename()
	case pylock.SourceArchive:
		hashes, what = s.Archive.Hashes, "the archive"
	case pylock.SourceVCS:
		if d.du == nil {
			return ""
		}
		if d.du.VCSInfo == nil {
			return fmt.Sprintf("the lock names a %s checkout at %s, but it was installed from %s", s.VCS.Type, s.VCS.CommitID, pep610.StripCredentials(d.du.URL))
		}
		if !strings.EqualFold(d.du.VCSInfo.CommitID, s.VCS.CommitID) {
			return fmt.Sprintf("expected commit %s, got %s (direct_url.json)", s.VCS.CommitID, d.du.VCSInfo.CommitID)
		}
		return ""
	default:
		return ""
	}
	var problems []string
	if d.du != nil {
		switch {
		case d.du.ArchiveInfo != nil:
			recorded := archiveHashes(d.du.ArchiveInfo)
			for _, alg := range sortedKeys(hashes) {
				if got, ok := recorded[alg]; ok && !strings.EqualFold(got, hashes[alg]) {
					problems = append(problems, fmt.Sprintf("expected %s %s:%s, got %s:%s (direct_url.json)", what, alg, hashes[alg], alg, got))
				}
			}
		default:
			problems = append(problems, fmt.Sprintf("the lock names %s, but it was installed from %s", what, pep610.StripCredentials(d.du.URL)))
		}
	}
	// The receipt's wheel_sha256 is the wheel pip installed.
	if d.receipt != nil && d.receipt.WheelSHA256 != "" && s.Kind == pylock.SourceWheel {
		if want, ok := hashes["sha256"]; ok && !strings.EqualFold(want, d.receipt.WheelSHA256) {
			problems = append(problems, fmt.Sprintf("expected %s sha256:%s, got sha256:%s (pipguard's receipt)", what, want, d.receipt.WheelSHA256))
		}
	}
	return strings.Join(problems, "; ")
}

// archiveHashes are archive_info's hashes, the legacy "hash" included.
func archiveHashes(a *pep610.ArchiveInfo) map[string]string {
	out := map[string]string{}
	if alg, hex, ok := strings.Cut(a.Hash, "="); ok {
		out[alg] = hex
	}
	for alg, hex := range a.Hashes {
		out[alg] = hex
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// ErrLock marks a lock Audit cannot compare with: not one pylock.Read
// accepted.
var ErrLock = errors.New("no lock to compare with")
