// Package wheel picks the release asset to install for an interpreter and
// reads a wheel's own metadata.
//
// It trusts nothing in an asset: file names are parsed strictly (PEP 427
// for wheels, name-version.tar.gz for sdists) and a wheel is read as a zip
// with limits, so a zip bomb or a lying header is an error, not an outage.
package wheel

import (
	"archive/zip"
	"bufio"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"
	"strings"

	"github.com/pipguard/pipguard/installer/requirement"
	"github.com/pipguard/pipguard/internal/pep440"
)

// File is a parsed distribution file name.
type File struct {
	Name    string // as in the file name (escaped)
	Version string
	// Build is a wheel's build tag ("" when none).
	Build string
	// Tags are the expanded py-abi-platform triples of a wheel, lower
	// case (packaging's Tag lowercases them); nil for an sdist.
	Tags []string
	// Sdist is true for name-version.EXT with one of the archive
	// extensions pip takes for a source distribution (SdistFormats).
	Sdist bool
	// Format is an sdist's extension (".tar.gz", ".zip", ...).
	Format string
}

// SdistFormats are the archive extensions pip reads as a source
// distribution (its SUPPORTED_EXTENSIONS), longest first; Buildable are
// those pipguard unpacks to build.
var (
	SdistFormats = []string{".tar.bz2", ".tar.lzma", ".tar.gz", ".tar.xz", ".tar.lz", ".tar", ".tbz", ".tgz", ".tlz", ".txz", ".zip"}
	Buildable    = []string{".tar.gz", ".tgz", ".zip"}
)

// CanonicalVersion normalises a version or tag for comparison, as
// packaging compares versions (internal/pep440): a leading "v" dropped
// (v1.3.1 is the tag of 1.3.1), 1.0 == 1.0.0, 1.0RC1 == 1.0rc1. A string
// that is not a PEP 440 version is only lowercased.
func CanonicalVersion(v string) string {
	if c, err := pep440.Canonical(v); err == nil {
		return c
	}
	return strings.ToLower(strings.TrimSpace(v))
}

// sameVersion says whether a file's version is the version asked for, as
// "==" compares them: equal, or, when the version asked for has no local
// label, equal once the file's local label (1.0+cu118) is dropped.
func sameVersion(file, asked string) bool {
	f, err1 := pep440.Parse(file)
	a, err2 := pep440.Parse(asked)
	if err1 != nil || err2 != nil {
		return CanonicalVersion(file) == CanonicalVersion(asked)
	}
	if a.Local == "" {
		f.Local = ""
	}
	return f.Compare(a) == 0
}

// compareVersions orders two file versions as packaging does (0 when
// either is not a PEP 440 version).
func compareVersions(a, b string) int {
	va, err1 := pep440.Parse(a)
	vb, err2 := pep440.Parse(b)
	if err1 != nil || err2 != nil {
		return 0
	}
	return va.Compare(vb)
}

// laterBuild says whether build tag a sorts after b, as pip orders them
// (packaging's (int, str) build tag: the leading number, of any length,
// then the rest; no build tag sorts first).
func laterBuild(a, b string) bool {
	if a == "" || b == "" {
		return a != "" && b == ""
	}
	split := func(s string) (string, string) {
		i := strings.IndexFunc(s, func(r rune) bool { return r < '0' || r > '9' })
		if i < 0 {
			i = len(s)
		}
		return s[:i], s[i:]
	}
	an, as := split(a)
	bn, bs := split(b)
	if c := pep440.CompareDigits(an, bn); c != 0 {
		return c > 0
	}
	return as > bs
}

var part = regexp.MustCompile(`^[A-Za-z0-9_.+!]+$`)

// Parse parses a wheel or sdist file name.
func Parse(filename string) (File, error) {
	switch {
	case strings.HasSuffix(filename, ".whl"):
		parts := strings.Split(strings.TrimSuffix(filename, ".whl"), "-")
		if len(parts) != 5 && len(parts) != 6 {
			return File{}, fmt.Errorf("%q is not a wheel name (name-version[-build]-python-abi-platform.whl)", filename)
		}
		for _, p := range parts {
			if !part.MatchString(p) {
				return File{}, fmt.Errorf("%q is not a wheel name", filename)
			}
		}
		n := len(parts)
		f := File{Name: parts[0], Version: parts[1]}
		if n == 6 {
			f.Build = parts[2]
		}
		for _, py := range strings.Split(strings.ToLower(parts[n-3]), ".") {
			for _, abi := range strings.Split(strings.ToLower(parts[n-2]), ".") {
				for _, plat := range strings.Split(strings.ToLower(parts[n-1]), ".") {
					f.Tags = append(f.Tags, py+"-"+abi+"-"+plat)
				}
			}
		}
		return f, nil
	}
	for _, ext := range SdistFormats {
		if !strings.HasSuffix(filename, ext) {
			continue
		}
		base := strings.TrimSuffix(filename, ext)
		i := strings.LastIndexByte(base, '-')
		if i <= 0 || i == len(base)-1 || !part.MatchString(base[i+1:]) {
			return File{}, fmt.Errorf("%q is not an sdist name (name-version%s)", filename, ext)
		}
		return File{Name: base[:i], Version: base[i+1:], Sdist: true, Format: ext}, nil
	}
	return File{}, fmt.Errorf("%q is neither a wheel nor an sdist", filename)
}

// Choice is the asset picked and why the others were not.
type Choice struct {
	Asset  string
	File   File
	Reason string
	// Skipped says why each other asset was not picked.
	Skipped map[string]string
}

// ErrNoAsset is returned when no asset fits.
var ErrNoAsset = errors.New("no asset fits")

// Choose picks, among asset names, the best wheel for an interpreter with
// the supported tags (most preferred first) whose name and version match,
// else (if allowSdist) the matching sdist.
func Choose(assets []string, project, version string, supported []string, allowSdist bool) (*Choice, error) {
	rank := map[string]int{}
	for i, t := range supported {
		if _, ok := rank[t]; !ok {
			rank[t] = i
		}
	}
	c := &Choice{Skipped: map[string]string{}}
	best, sdist := -1, ""
	for _, a := range assets {
		f, err := Parse(a)
		if err != nil {
			continue // SHA256SUMS, SBOMs and other files
		}
		if requirement.Normalize(f.Name) != requirement.Normalize(project) {
			c.Skipped[a] = fmt.Sprintf("project %q, not %q", f.Name, project)
			continue
		}
		if !sameVersion(f.Version, version) {
			c.Skipped[a] = fmt.Sprintf("version %s, not %s", f.Version, version)
			continue
		}
		if f.Sdist {
			if !slices.Contains(Buildable, f.Format) {
				c.Skipped[a] = "pipguard builds " + strings.Join(Buildable, ", ") + " sdists, not " + f.Format
				continue
			}
			// pip's order among sdists: the highest version; then a
			// .tar.gz (the standard format) over the others.
			if sdist == "" {
				sdist = a
			} else if prev, _ := Parse(sdist); compareVersions(f.Version, prev.Version) > 0 ||
				compareVersions(f.Version, prev.Version) == 0 && f.Format == ".tar.gz" && prev.Format != ".tar.gz" {
				sdist = a
			}
			continue
		}
		r := -1
		for _, t := range f.Tags {
			if i, ok := rank[t]; ok && (r < 0 || i < r) {
				r = i
			}
		}
		if r < 0 {
			c.Skipped[a] = "no tag supported by the interpreter (" + strings.Join(f.Tags, ", ") + ")"
			continue
		}
		// pip's order (CandidateEvaluator): the highest version (among
		// those == accepts, a local label sorts above the public
		// version), then the interpreter's most preferred tag, then the
		// highest build tag.
		vc := 0
		if best >= 0 {
			vc = compareVersions(f.Version, c.File.Version)
		}
		if best < 0 || vc > 0 || vc == 0 && (r < best || r == best && laterBuild(f.Build, c.File.Build)) {
			if c.Asset != "" {
				c.Skipped[c.Asset] = "a better wheel fits"
			}
			best, c.Asset, c.File = r, a, f
			c.Reason = "the best wheel for the interpreter (tag " + supported[r] + ")"
		} else {
			c.Skipped[a] = "a better wheel fits"
		}
	}
	if c.Asset != "" {
		if sdist != "" {
			c.Skipped[sdist] = "a wheel fits"
		}
		return c, nil
	}
	if sdist != "" {
		if !allowSdist {
			c.Skipped[sdist] = "building an sdist runs its build code: pass --allow-sdist"
			return c, ErrNoAsset
		}
		f, _ := Parse(sdist)
		c.Asset, c.File, c.Reason = sdist, f, "no wheel fits; sdist allowed"
		return c, nil
	}
	return c, ErrNoAsset
}

// Limits on what is read from a wheel.
const (
	maxEntries  = 100000
	maxMetadata = 1 << 20
)

// Metadata reads Name and Version from the wheel's
// NAME-VERSION.dist-info/METADATA, reading at most 1 MiB of it whatever
// its header claims.
func Metadata(path string) (name, version string, err error) {
	zr, err := zip.OpenReader(path)
	if err != nil {
		return "", "", fmt.Errorf("%s is not a valid wheel (zip): %v", path, err)
	}
	defer zr.Close()
	if len(zr.File) > maxEntries {
		return "", "", fmt.Errorf("%s has more than %d entries", path, maxEntries)
	}
	var meta *zip.File
	for _, f := range zr.File {
		dir, file, ok := strings.Cut(f.Name, "/")
		if ok && file == "METADATA" && strings.HasSuffix(dir, ".dist-info") {
			if meta != nil {
				return "", "", fmt.Errorf("%s has more than one .dist-info/METADATA", path)
			}
			meta = f
		}
	}
	if meta == nil {
		return "", "", fmt.Errorf("%s has no .dist-info/METADATA", path)
	}
	rc, err := meta.Open()
	if err != nil {
		return "", "", err
	}
	defer rc.Close()
	sc := bufio.NewScanner(io.LimitReader(rc, maxMetadata))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	for sc.Scan() {
		line := sc.Text()
		if line == "" {
			break
		}
		if v, ok := strings.CutPrefix(line, "Name: "); ok && name == "" {
			name = strings.TrimSpace(v)
		}
		if v, ok := strings.CutPrefix(line, "Version: "); ok && version == "" {
			version = strings.TrimSpace(v)
		}
	}
	if err := sc.Err(); err != nil {
		return "", "", fmt.Errorf("%s: METADATA: %v", path, err)
	}
	if name == "" || version == "" {
		return "", "", fmt.Errorf("%s: METADATA has no Name or Version", path)
	}
	return name, version, nil
}
