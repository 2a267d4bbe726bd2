package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
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
