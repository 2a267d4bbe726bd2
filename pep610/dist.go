package pep610

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Dist is an installed distribution: a .dist-info directory (any case of
// the suffix, as importlib.metadata matches it).
type Dist struct {
	// Dir is the .dist-info directory.
	Dir string
	// Name and Version are importlib.metadata's: METADATA's Name and
	// Version headers (see ParseHeaders). Listed sets them from the
	// directory's name; LoadMetadata from METADATA, keeping the directory's
	// where METADATA has none.
	Name, Version string
	// Metadata is the file Name and Version were read from ("" before
	// LoadMetadata, or when there is none).
	Metadata string
	// MetadataErr says why METADATA does not name the distribution (see
	// MetadataError), after LoadMetadata.
	MetadataErr error
}

var normRE = regexp.MustCompile(`[-_.]+`)

// Normalize is PEP 503 name normalisation.
func Normalize(name string) string { return normRE.ReplaceAllString(strings.ToLower(name), "-") }

// UniqueDirs drops directories that are the same directory as an earlier
// one: the same path, or the same through symlinks (a venv's lib64 -> lib,
// as on Fedora and RHEL, makes purelib and platlib two names of one
// site-packages).
func UniqueDirs(dirs []string) []string {
	var out []string
	var infos []os.FileInfo
next:
	for _, d := range dirs {
		fi, err := os.Stat(d)
		for i, o := range out {
			if o == d || err == nil && infos[i] != nil && os.SameFile(infos[i], fi) {
				continue next
			}
		}
		out = append(out, d)
		infos = append(infos, fi)
	}
	return out
}

// Installed lists the distributions in a site-packages directory, with
// their METADATA name and version.
func Installed(site string) ([]Dist, error) {
	ds, err := Listed(site)
	for i := range ds {
		ds[i].LoadMetadata()
	}
	return ds, err
}

// Listed lists the distributions in a site-packages directory by their
// .dist-info names alone (PEP 427 escaping: the version starts at the last
// "-"); LoadMetadata then reads their METADATA. Like importlib.metadata
// (its Lookup: `child.lower().endswith(".dist-info")`) it matches the
// suffix in any case and takes names without a version ("foo.dist-info").
func Listed(site string) ([]Dist, error) {
	entries, err := os.ReadDir(site)
	if err != nil {
		return nil, err
	}
	var out []Dist
	for _, e := range entries {
		n := e.Name()
		if !hasSuffixFold(n, ".dist-info") {
			continue
		}
		base := n[:len(n)-len(".dist-info")]
		name, version := base, ""
		if i := strings.LastIndexByte(base, '-'); i >= 0 {
			name, version = base[:i], base[i+1:]
		}
		out = append(out, Dist{Dir: filepath.Join(site, n), Name: name, Version: version})
	}
	return out, nil
}

// hasSuffixFold is strings.HasSuffix ignoring ASCII case.
func hasSuffixFold(s, suffix string) bool {
	return len(s) >= len(suffix) && strings.EqualFold(s[len(s)-len(suffix):], suffix)
}

// isDir says whether a directory entry is a directory, following a
// symlink as Python's importlib does (a linked .dist-info still counts).
func isDir(site string, e os.DirEntry) bool {
	if e.Type()&os.ModeSymlink == 0 {
		return e.IsDir()
	}
	fi, err := os.Stat(filepath.Join(site, e.Name()))
	return err == nil && fi.IsDir()
}

// Legacy is an installation pip did not record in a .dist-info: an
// .egg-info (setup.py install, easy_install, distro packages) or a develop
// install's .egg-link.
type Legacy struct {
	// Path is the .egg-info or .egg-link.
	Path string
	// Name and Version are from the file name (and PKG-INFO when there is
	// one).
	Name, Version string
	// Link says it is a develop install (.egg-link): an editable.
	Link bool
	// Metadata and MetadataErr are as Dist's, for an .egg-info.
	Metadata    string
	MetadataErr error
}

// LegacyInstalled lists the legacy installations in site: .egg-info
// directories and files (any case of the suffix, as importlib.metadata
// matches it), .egg directories and files, and .egg-link files. An
// .egg-info's name and version come from its PKG-INFO as importlib.metadata
// reads it (or the file itself, for an .egg-info file), else its name.
func LegacyInstalled(site string) ([]Legacy, error) {
	entries, err := os.ReadDir(site)
	if err != nil {
		return nil, err
	}
	var out []Legacy
	for _, e := range entries {
		n := e.Name()
		switch {
		case hasSuffixFold(n, ".egg-info"), hasSuffixFold(n, ".egg"):
			base := n[:strings.LastIndexByte(n, '.')]
			name, rest, _ := strings.Cut(base, "-")
			version, _, _ := strings.Cut(rest, "-")
			l := Legacy{Path: filepath.Join(site, n), Name: name, Version: version}
			if hasSuffixFold(n, ".egg-info") {
				l.loadMetadata()
			} else if isDir(site, e) {
				// an .egg directory: its EGG-INFO, when it is on sys.path
				if nm, v, _, err := metadataOf(filepath.Join(l.Path, "EGG-INFO")); err == nil {
					l.Name, l.Version = nm, v
				}
			}
			out = append(out, l)
		case strings.HasSuffix(n, ".egg-link"):
			out = append(out, Legacy{Path: filepath.Join(site, n), Name: strings.TrimSuffix(n, ".egg-link"), Link: true})
		}
	}
	return out, nil
}

// loadMetadata sets an .egg-info's name and version from its metadata.
func (l *Legacy) loadMetadata() {
	nm, v, file, err := metadataOf(l.Path)
	l.Metadata, l.MetadataErr = file, err
	if nm != "" {
		l.Name = nm
	}
	if v != "" {
		l.Version = v
	}
}

// LoadMetadata sets Name and Version from METADATA as importlib.metadata
// reads it (ParseHeaders), keeping the directory name's where METADATA has
// no such header or cannot be read; MetadataErr says why.
func (d *Dist) LoadMetadata() {
	nm, v, file, err := metadataOf(d.Dir)
	d.Metadata, d.MetadataErr = file, err
	if nm != "" {
		d.Name = nm
	}
	if v != "" {
		d.Version = v
	}
}

// DirProject is the project name the directory's name gives (up to its
// first "-"), which pip names the distribution by when the suffix is
// exactly ".dist-info" or ".egg-info"; importlib.metadata names it by
// METADATA's Name.
func (d Dist) DirProject() string { return projectOfDir(d.Dir) }

// NameMismatch says whether METADATA names another project than the
// directory (PEP 503 normalised): pip and importlib.metadata then call one
// distribution by two names.
func (d Dist) NameMismatch() bool {
	return d.Metadata != "" && d.Name != "" && Normalize(d.Name) != Normalize(d.DirProject())
}

// Find returns the installed distributions named name (PEP 503 compare).
func Find(site, name string) ([]Dist, error) {
	all, err := Installed(site)
	if err != nil {
		return nil, err
	}
	var out []Dist
	for _, d := range all {
		if Normalize(d.Name) == Normalize(name) {
			out = append(out, d)
		}
	}
	return out, nil
}

// ErrNoDirectURL means the distribution has no direct_url.json: it was
// installed from an index (or by a tool that does not write one).
var ErrNoDirectURL = errors.New("no direct_url.json")

// DirectURL reads and validates the distribution's direct_url.json.
func (d Dist) DirectURL() (*DirectURL, error) {
	data, err := os.ReadFile(filepath.Join(d.Dir, "direct_url.json"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoDirectURL
	}
	if err != nil {
		return nil, err
	}
	return Parse(data)
}

// Installer is the content of the INSTALLER file ("pip"), or "".
func (d Dist) Installer() string {
	data, err := os.ReadFile(filepath.Join(d.Dir, "INSTALLER"))
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(data))
}
