package pylock

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/pipguard/pipguard/internal/pep440"
)

// Sentinels for Select's errors.
var (
	// ErrEnvironment: the target environment is not one the lock is for
	// (no "environments" marker matches, or requires-python is unmet).
	ErrEnvironment = errors.New("lock is not for this environment")
	// ErrPackage: a selected package cannot be installed here (its
	// requires-python is unmet, it is selected twice, no file fits).
	ErrPackage = errors.New("lock cannot be installed here")
)

// Environment is the interpreter a lock is installed into.
type Environment struct {
	// Markers holds the PEP 508 marker values (every key in
	// EnvironmentKeys), as packaging's default_environment() gives them.
	Markers map[string]string
	// Tags are the interpreter's supported wheel tags
	// ("cp312-cp312-manylinux_2_17_x86_64"), most preferred first, as
	// packaging.tags.sys_tags() orders them.
	Tags []string
}

// SourceKind says which of a package's sources Select chose.
type SourceKind string

const (
	SourceWheel     SourceKind = "wheel"
	SourceSdist     SourceKind = "sdist"
	SourceArchive   SourceKind = "archive"
	SourceVCS       SourceKind = "vcs"
	SourceDirectory SourceKind = "directory"
)

// Selected is one package to install and the one source to install it
// from.
type Selected struct {
	// Index is the package's position in Lock.Packages.
	Index   int
	Package *Package
	Kind    SourceKind
	// File is the chosen wheel or the sdist (Kind wheel or sdist).
	File      *File
	Archive   *Archive
	VCS       *VCS
	Directory *Directory
}

// Select runs PEP 751's installer steps for env: it refuses an
// environment the lock is not for, evaluates every package's marker with
// the given extras and dependency groups (nil groups means the lock's
// default-groups; an empty non-nil slice means none), refuses a package
// selected twice or whose requires-python env does not meet, and picks
// each package's source from the lock alone: vcs, directory or archive
// when set, else the wheel with the best-ranked tag, else the sdist. It
// never reads "dependencies" or [tool] tables.
//
// pipguard is stricter than the spec in one place: an extra or a group
// the lock does not list is refused (a typo would silently install
// nothing).
//
// The lock must come from Read (or have passed it).
func (l *Lock) Select(env Environment, extras, groups []string) ([]Selected, error) {
	var errs []error
	fail := func(sentinel error, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%w: %s", sentinel, fmt.Sprintf(format, args...)))
	}
	for _, e := range extras {
		if !containsNorm(l.Extras, e) {
			fail(ErrEnvironment, "extra %q is not one the lock provides (%s)", e, listOrNone(l.Extras))
		}
	}
	if groups == nil {
		groups = l.DefaultGroups
	} else {
		for _, g := range groups {
			if !containsNorm(l.DependencyGroups, g) {
				fail(ErrEnvironment, "dependency group %q is not one the lock provides (%s)", g, listOrNone(l.DependencyGroups))
			}
		}
	}
	pyFull := env.Markers["python_full_version"]
	// "If requires-python is specified, check that the environment being
	// installed for meets the requirement; an error MUST be raised if it
	// is not met."
	if l.RequiresPython != "" {
		ss, err := pep440.ParseSpecifierSet(l.RequiresPython)
		if err != nil {
			return nil, fmt.Errorf("%w: requires-python: %v", ErrInvalid, err)
		}
		if !ss.Contains(pyFull) {
			fail(ErrEnvironment, "Python %s does not satisfy the lock's requires-python %q", pyFull, l.RequiresPython)
		}
	}
	// "If environments is specified, check that at least one of the
	// environment marker expressions is satisfied; an error MUST be raised
	// if no expression is satisfied."
	base := markerEnv{values: env.Markers}
	if len(l.Environments) > 0 {
		matched := false
		for _, e := range l.Environments {
			m, err := ParseMarker(e)
			if err != nil {
				return nil, fmt.Errorf("%w: environments: %v", ErrInvalid, err)
			}
			ok, err := m.evaluate(base)
			if err != nil {
				fail(ErrEnvironment, "environments: %v", err)
				continue
			}
			matched = matched || ok
		}
		if !matched && len(errs) == 0 {
			fail(ErrEnvironment, "no environments marker matches this environment (%s)", strings.Join(l.Environments, "; "))
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	// Package markers see "extras" and "dependency_groups" (PEP 751's
	// marker extensions) as sets.
	penv := markerEnv{values: env.Markers, sets: map[string]map[string]bool{
		"extras": setOf(extras), "dependency_groups": setOf(groups),
	}}
	ranks := map[string]int{}
	for i, t := range env.Tags {
		for _, tag := range expandTag(t) {
			if _, ok := ranks[tag]; !ok {
				ranks[tag] = i
			}
		}
	}
	var out []Selected
	first := map[string]int{}
	for i := range l.Packages {
		p := &l.Packages[i]
		// "If marker is specified, check if it is satisfied; if it isn't,
		// skip to the next package."
		if p.Marker != "" {
			m, err := ParseMarker(p.Marker)
			if err != nil {
				return nil, fmt.Errorf("%w: packages[%d].marker: %v", ErrInvalid, i, err)
			}
			ok, err := m.evaluate(penv)
			if err != nil {
				fail(ErrPackage, "packages[%d] (%s): %v", i, p.Name, err)
				continue
			}
			if !ok {
				continue
			}
		}
		// "If requires-python is specified, check if it is satisfied; an
		// error MUST be raised if it isn't."
		if p.RequiresPython != "" {
			ss, err := pep440.ParseSpecifierSet(p.RequiresPython)
			if err != nil {
				return nil, fmt.Errorf("%w: packages[%d].requires-python: %v", ErrInvalid, i, err)
			}
			if !ss.Contains(pyFull) {
				fail(ErrPackage, "packages[%d] (%s %s) requires Python %q, this is %s", i, p.Name, p.Version, p.RequiresPython, pyFull)
			}
		}
		// "Check that no other conflicting instance of the package has been
		// slated to be installed; an error about the ambiguity MUST be
		// raised otherwise."
		if j, dup := first[p.Name]; dup {
			fail(ErrPackage, "package %q is selected twice, at packages[%d] and packages[%d]: their markers overlap for this environment", p.Name, j, i)
			continue
		}
		first[p.Name] = i
		s := Selected{Index: i, Package: p}
		switch {
		case p.VCS != nil:
			s.Kind, s.VCS = SourceVCS, p.VCS
		case p.Directory != nil:
			s.Kind, s.Directory = SourceDirectory, p.Directory
		case p.Archive != nil:
			s.Kind, s.Archive = SourceArchive, p.Archive
		default:
			// "Look for the appropriate wheel file based on name; if one is
			// not found then move on to sdist or an error MUST be raised
			// about a lack of source for the project."
			best, bestRank := -1, 0
			for wi := range p.Wheels {
				w, err := ParseWheelName(p.Wheels[wi].Filename())
				if err != nil {
					return nil, fmt.Errorf("%w: packages[%d].wheels[%d]: %v", ErrInvalid, i, wi, err)
				}
				for _, tag := range w.Tags {
					if r, ok := ranks[tag]; ok && (best < 0 || r < bestRank) {
						best, bestRank = wi, r
					}
				}
			}
			switch {
			case best >= 0:
				s.Kind, s.File = SourceWheel, &p.Wheels[best]
			case p.Sdist != nil:
				s.Kind, s.File = SourceSdist, p.Sdist
			default:
				fail(ErrPackage, "packages[%d] (%s %s): no wheel matches this interpreter's tags and there is no sdist", i, p.Name, p.Version)
				continue
			}
		}
		out = append(out, s)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}

func setOf(xs []string) map[string]bool {
	m := make(map[string]bool, len(xs))
	for _, x := range xs {
		m[x] = true
	}
	return m
}

func containsNorm(xs []string, x string) bool {
	for _, e := range xs {
		if Normalize(e) == Normalize(x) {
			return true
		}
	}
	return false
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "it lists none"
	}
	s := append([]string(nil), xs...)
	sort.Strings(s)
	return "it lists " + strings.Join(s, ", ")
}
