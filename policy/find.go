package policy

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"syscall"

	"github.com/pipguard/pipguard/internal/safefile"
)

// Discovery: which file decides the policy when no --policy is given.
//
// The walk starts at the working directory (its real path, symbolic links
// resolved, so that the directories climbed are the ones the operating
// system would) and goes upward. In each directory:
//
//  1. A directory that anyone on the machine can write (o+w: /tmp, a 0777
//     directory) or that belongs to a user other than the invoking one or
//     root is not the project's: nothing in it is read and the walk ends
//     there. When such a directory holds a pyproject.toml or pipguard.toml
//     that the walk would otherwise have read, it is an error, so that a
//     policy the user meant to apply is never dropped silently, with one
//     exception: a directory anyone can write that is not the working
//     directory ends the walk silently, because every temporary directory
//     is under /tmp and anyone could plant a file there to break every
//     run below it.
//  2. pyproject.toml and pipguard.toml there are read. Either, when
//     present, must be a regular file that neither anyone nor another user
//     can write: owned by the invoking user or root and not o+w; one that
//     cannot be read, is not TOML, or is not a regular file is an error
//     naming it. Never skipped: a file that would have decided the policy
//     is either used or refused.
//  3. A pyproject.toml with [tool.pipguard] (however the TOML spells it:
//     [tool] pipguard = {...}, dotted keys, quoted keys) or a pipguard.toml
//     is the policy; both at once is an error. A pyproject.toml without the
//     table ends the walk with the defaults: it is the project's own.
//  4. A .git (a repository's root) ends the walk, as does the file
//     system's root.
var (
	uid  = os.Getuid()
	euid = os.Geteuid()
)

// Find returns the policy file discovery picks for dir ("" when there is
// none, and the defaults apply). See Discover.
func Find(dir string) (string, error) {
	p, err := Discover(dir)
	if err != nil || p == nil {
		return "", err
	}
	return p.File, nil
}

// Discover returns the policy for dir when no --policy is given: the
// nearest pyproject.toml with [tool.pipguard] or pipguard.toml upward from
// dir, never past the project's own pyproject.toml, a repository's root
// (.git), or a directory the project does not own, read once and parsed;
// Default() when there is none. Every file it reads that cannot decide the
// policy safely is an error.
func Discover(dir string) (*Policy, error) {
	abs, err := filepath.Abs(dir)
	if err == nil {
		abs, err = filepath.EvalSymlinks(abs)
	}
	if err != nil {
		return nil, &Error{Where: dir, Msg: "cannot find the policy from here: " + errText(err), Fix: "pass --policy FILE"}
	}
	for d := abs; ; d = filepath.Dir(d) {
		if why := untrusted(d); why != "" {
			if d != abs && why == whyWorldWritable {
				return Default(), nil
			}
			for _, name := range []string{"pyproject.toml", "pipguard.toml"} {
				p := filepath.Join(d, name)
				if _, err := os.Lstat(p); err == nil {
					return nil, &Error{Where: p, Msg: fmt.Sprintf("not used: the directory %s %s, so a file in it cannot decide what is trusted", d, why),
						Fix: "pass --policy FILE to use it anyway, or give the project its own pyproject.toml, pipguard.toml or .git below " + d}
				}
			}
			return Default(), nil
		}
		py, err := readCandidate(filepath.Join(d, "pyproject.toml"), true)
		if err != nil {
			return nil, err
		}
		pg, err := readCandidate(filepath.Join(d, "pipguard.toml"), true)
		if err != nil {
			return nil, err
		}
		var pyPolicy, pgPolicy *Policy
		hasTable := false
		if py != nil {
			if pyPolicy, hasTable, err = parse(py.path, py.data); err != nil {
				return nil, err
			}
		}
		if pg != nil {
			if pgPolicy, _, err = parse(pg.path, pg.data); err != nil {
				return nil, err
			}
		}
		switch {
		case hasTable && pg != nil:
			return nil, &Error{Where: d, Msg: fmt.Sprintf("two policy files: %s has [tool.pipguard] and %s is there too", py.path, pg.path),
				Fix: "keep one: move the keys of one into the other"}
		case hasTable:
			return pyPolicy, nil
		case pg != nil:
			return pgPolicy, nil
		case py != nil:
			return Default(), nil // the project's own pyproject.toml, without a policy
		}
		if _, err := os.Lstat(filepath.Join(d, ".git")); !errors.Is(err, fs.ErrNotExist) {
			return Default(), nil // a repository's root (or what cannot be told from one)
		}
		if filepath.Dir(d) == d {
			return Default(), nil
		}
	}
}

const whyWorldWritable = "can be written by anyone on this machine"

// untrusted says why directory d is not the project's ("" when it is):
// anyone can write it, or it belongs to another user than the invoking
// one or root. A directory that cannot be examined is not the project's
// either.
func untrusted(d string) string {
	fi, err := os.Stat(d)
	if err != nil {
		return "cannot be examined (" + errText(err) + ")"
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return whyWorldWritable
	}
	if owner, ok := foreignOwner(fi); ok {
		return "belongs to " + owner + ", not to you or root"
	}
	return ""
}

// foreignOwner names fi's owner when it is neither the invoking user nor
// root.
func foreignOwner(fi fs.FileInfo) (string, bool) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", false
	}
	id := int(st.Uid)
	if id == 0 || id == uid || id == euid {
		return "", false
	}
	name := "uid " + strconv.Itoa(id)
	if u, err := user.LookupId(strconv.Itoa(id)); err == nil && u.Username != "" {
		name += " (" + u.Username + ")"
	}
	return name, true
}

type candidate struct {
	path string
	data []byte
}

// readCandidate reads a policy file once: nil when it does not exist (and
// discovered is set: Load's file must exist), an error naming it when it
// cannot be read, is not a regular file, can be written by anyone, or
// (discovered) belongs to another user than the invoking one or root.
func readCandidate(path string, discovered bool) (*candidate, error) {
	fix := "pass --policy with a readable file"
	if discovered {
		fix = "make it readable, or remove it; pipguard never skips a policy file it finds"
		if _, err := os.Lstat(path); errors.Is(err, fs.ErrNotExist) {
			return nil, nil
		}
	}
	// O_NONBLOCK: opening a FIFO planted under the name must not hang.
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK|syscall.O_NOCTTY, 0)
	if err != nil {
		return nil, &Error{Where: path, Msg: "cannot be read: " + errText(err), Fix: fix}
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, &Error{Where: path, Msg: "cannot be read: " + errText(err), Fix: fix}
	}
	if !fi.Mode().IsRegular() {
		if discovered {
			fix = "a policy file is a regular file; remove or rename what is there"
		}
		return nil, &Error{Where: path, Msg: fmt.Sprintf("cannot be read: not a regular file (%s)", safefile.Kind(fi.Mode())), Fix: fix}
	}
	if fi.Mode().Perm()&0o002 != 0 {
		return nil, &Error{Where: path, Msg: "anyone on this machine can write it, so it cannot decide what is trusted", Fix: "chmod o-w " + path}
	}
	if discovered {
		if owner, ok := foreignOwner(fi); ok {
			return nil, &Error{Where: path, Msg: fmt.Sprintf("not used: it belongs to %s, not to you or root, so it cannot decide what is trusted", owner),
				Fix: "chown it to yourself, or pass --policy " + path + " to use it anyway"}
		}
	}
	data, err := io.ReadAll(io.LimitReader(f, MaxFile+1))
	if err != nil {
		return nil, &Error{Where: path, Msg: "cannot be read: " + errText(err), Fix: fix}
	}
	if len(data) > MaxFile {
		return nil, &Error{Where: path, Msg: fmt.Sprintf("larger than %d MiB", MaxFile>>20)}
	}
	return &candidate{path, data}, nil
}

// errText is an error from the file system without the path it repeats.
func errText(err error) string {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}
