package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/pipguard/pipguard/installer/requirement"
)

// requirementFiles refuses, before anything starts, a -r FILE that
// install cannot read as a requirements file: a pyproject.toml (or
// another project file), a directory, or a file it may not open. A
// missing file is the library's to report (with the same words as a
// nested one).
func requirementFiles(files []string) error {
	var errs []error
	for _, f := range files {
		switch base := strings.ToLower(filepath.Base(f)); {
		case strings.HasSuffix(base, ".toml"), base == "setup.py", base == "setup.cfg":
			errs = append(errs, &usageError{err: fmt.Errorf("-r %s: install reads requirements files (pip's format, one requirement a line), and %s is a project file", f, filepath.Base(f)),
				hint: "put the project's dependencies in a requirements file (name @ git+https://github.com/o/r.git@v1.2.3, one a line) and pass it with -r, or as arguments; pipguard check " + f + " lints them where they are"})
			continue
		}
		fi, err := os.Stat(f)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err == nil && fi.IsDir() {
			errs = append(errs, &usageError{err: fmt.Errorf("-r %s is a directory, not a requirements file", f), hint: "pass -r with a requirements file"})
			continue
		}
		r, err := os.Open(f)
		if err != nil {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			errs = append(errs, &usageError{err: fmt.Errorf("-r %s cannot be read: %v", f, err), hint: "check the file's permissions, or pass another -r"})
			continue
		}
		r.Close()
	}
	return errors.Join(errs...)
}

// scpRE is an scp-style git address after a requirement's "@" (user@host:path),
// optionally with git+ and an @ref.
var scpRE = regexp.MustCompile(`@\s*(?:git\+)?([A-Za-z0-9._-]+@[A-Za-z0-9.-]+):/*([^@\s:]+?)(?:@([^\s@#]+))?\s*$`)

// explainSCP says, for a requirement written with an scp-style git address
// (git@github.com:o/r.git@v1, what git clone takes), that pip does not
// accept it and gives the git+ssh:// form to write instead.
func explainSCP(err error) error {
	var pe *requirement.ParseError
	if !errors.As(err, &pe) {
		return err
	}
	m := scpRE.FindStringSubmatch(pe.Input)
	if m == nil {
		return err
	}
	form := "git+ssh://" + m[1] + "/" + m[2]
	if m[3] != "" {
		form += "@" + m[3]
	}
	pe.Msg = fmt.Sprintf("%s:%s is an scp-style git address, which pip does not accept", m[1], m[2])
	pe.Fix = "write it as " + form
	return err
}
