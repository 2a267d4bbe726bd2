package pep610

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// Dist is an installed distribution: a .dist-info directory.
type Dist struct {
	// Dir is the .dist-info directory.
	Dir string
	// Name and Version are from METADATA (falling back to the directory
	// name).
	Name, Version string
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
// "-"); LoadMetadata then reads their METADATA.
func Listed(site string) ([]Dist, error) {
	entries, err := os.ReadDir(site)
	if err != nil {
		return nil, err
	}
	var out []Dist
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".dist-info") || !isDir(site, e) {
			continue
		}
		base := strings.TrimSuffix(e.Name(), ".dist-info")
		i := strings.LastIndexByte(base, '-')
		if i <= 0 {
			continue
		}
		out = append(out, Dist{Dir: filepath.Join(site, e.Name()), Name: base[:i], Version: base[i+1:]})
	}
	return out, nil
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
}

// LegacyInstalled lists the legacy installations in site.
func LegacyInstalled(site string) ([]Legacy, error) {
	entries, err := os.ReadDir(site)
	if err != nil {
		return nil, err
	}
	var out []Legacy
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasSuffix(n, ".egg-info"), strings.HasSuffix(n, ".egg"):
			base := strings.TrimSuffix(strings.TrimSuffix(n, ".egg-info"), ".egg")
			name, rest, _ := strings.Cut(base, "-")
			version, _, _ := strings.Cut(rest, "-")
			l := Legacy{Path: filepath.Join(site, n), Name: name, Version: version}
			if isDir(site, e) {
				if nm, v, err := readMetadata(filepath.Join(l.Path, "PKG-INFO")); err == nil {
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

// LoadMetadata sets Name and Version from METADATA, keeping the directory
// name's when METADATA cannot be read.
func (d *Dist) LoadMetadata() {
	if n, v, err := readMetadata(filepath.Join(d.Dir, "METADATA")); err == nil {
		d.Name, d.Version = n, v
	}
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

// readMetadata reads Name and Version from the header of a METADATA file.
func readMetadata(path string) (string, string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", "", err
	}
	defer f.Close()
	var name, version string
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 4096), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break // end of the headers
		}
		if v, ok := strings.CutPrefix(line, "Name: "); ok && name == "" {
			name = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Version: "); ok && version == "" {
			version = strings.TrimSpace(v)
		}
	}
	if name == "" || version == "" {
		return "", "", fmt.Errorf("%s: no Name or Version", path)
	}
	return name, version, nil
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
