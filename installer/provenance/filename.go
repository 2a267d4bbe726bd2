package provenance

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/pipguard/pipguard/internal/pep440"
)

// Dist is a parsed distribution file name, in the form two names compare
// by: packaging's parse_wheel_filename (name, version, build tag, tag set)
// and parse_sdist_filename (name, version).
type Dist struct {
	// Name is PEP 503-normalised ("pep740-sampleproject").
	Name string
	// Version is the PEP 440 normal form of the version, with trailing
	// zero release segments dropped, so that equal versions are equal
	// strings ("1.0.0" and "1.0" are "1").
	Version string
	// Build is the wheel's build tag ("" for none).
	Build string
	// Tags is the wheel's sorted, de-duplicated set of
	// interpreter-abi-platform tags, lowercase; nil for an sdist.
	Tags []string
	// Sdist is the sdist's format, ".tar.gz" or ".zip"; "" for a wheel.
	// packaging's parse_sdist_filename ignores it; here a .zip is not the
	// .tar.gz of the same version.
	Sdist string
}

// Equal reports whether two parsed names denote the same distribution.
func (d Dist) Equal(o Dist) bool {
	return d.Name == o.Name && d.Version == o.Version && d.Build == o.Build && d.Sdist == o.Sdist && slices.Equal(d.Tags, o.Tags)
}

func (d Dist) String() string {
	if d.Sdist != "" {
		return d.Name + " " + d.Version + " (sdist " + d.Sdist + ")"
	}
	s := d.Name + " " + d.Version
	if d.Build != "" {
		s += " build " + d.Build
	}
	return s + " [" + strings.Join(d.Tags, " ") + "]"
}

var (
	// The wheel spec: a distribution name component is [\w\d._]*, with
	// runs of "-_." escaped to "_"; packaging also rejects "__".
	wheelNameRE = regexp.MustCompile(`^[A-Za-z0-9_.]+$`)
	buildRE     = regexp.MustCompile(`^([0-9]+)(.*)$`)
	tagPartRE   = regexp.MustCompile(`^[A-Za-z0-9_.+]+$`)
	normRE      = regexp.MustCompile(`[-_.]+`)
)

// NormalizeName is PEP 503's normalisation: lowercase, runs of "-", "_"
// and "." replaced by one "-".
func NormalizeName(name string) string {
	return normRE.ReplaceAllString(strings.ToLower(name), "-")
}

// ParseDist parses a wheel (PEP 427: NAME-VERSION[-BUILD]-PY-ABI-PLAT.whl)
// or sdist (NAME-VERSION.tar.gz or .zip) file name.
func ParseDist(filename string) (Dist, error) {
	switch {
	case strings.HasSuffix(filename, ".whl"):
		stem := strings.TrimSuffix(filename, ".whl")
		dashes := strings.Count(stem, "-")
		if dashes != 4 && dashes != 5 {
			return Dist{}, fmt.Errorf("invalid wheel file name %q: expected NAME-VERSION[-BUILD]-PY-ABI-PLATFORM.whl", printable(filename, 200))
		}
		parts := strings.SplitN(stem, "-", dashes-1)
		if !wheelNameRE.MatchString(parts[0]) || strings.Contains(parts[0], "__") {
			return Dist{}, fmt.Errorf("invalid wheel file name %q: bad project name %q", printable(filename, 200), printable(parts[0], 100))
		}
		v, err := CanonicalVersion(parts[1])
		if err != nil {
			return Dist{}, fmt.Errorf("invalid wheel file name %q: %v", printable(filename, 200), err)
		}
		d := Dist{Name: NormalizeName(parts[0]), Version: v}
		if dashes == 5 {
			m := buildRE.FindStringSubmatch(parts[2])
			if m == nil {
				return Dist{}, fmt.Errorf("invalid wheel file name %q: build tag %q does not start with a digit", printable(filename, 200), printable(parts[2], 100))
			}
			n, err := strconv.ParseUint(m[1], 10, 64)
			if err != nil {
				return Dist{}, fmt.Errorf("invalid wheel file name %q: build number too large", printable(filename, 200))
			}
			d.Build = strconv.FormatUint(n, 10) + m[2]
		}
		tags := strings.Split(parts[len(parts)-1], "-")
		if len(tags) != 3 {
			return Dist{}, fmt.Errorf("invalid wheel file name %q: bad tags", printable(filename, 200))
		}
		var split [3][]string
		for i, t := range tags {
			for _, x := range strings.Split(t, ".") {
				if !tagPartRE.MatchString(x) {
					return Dist{}, fmt.Errorf("invalid wheel file name %q: bad tag %q", printable(filename, 200), printable(t, 100))
				}
				split[i] = append(split[i], strings.ToLower(x))
			}
		}
		if n := len(split[0]) * len(split[1]) * len(split[2]); n > 4096 {
			return Dist{}, fmt.Errorf("invalid wheel file name %q: %d tags", printable(filename, 200), n)
		}
		for _, py := range split[0] {
			for _, abi := range split[1] {
				for _, plat := range split[2] {
					d.Tags = append(d.Tags, py+"-"+abi+"-"+plat)
				}
			}
		}
		slices.Sort(d.Tags)
		d.Tags = slices.Compact(d.Tags)
		return d, nil
	case strings.HasSuffix(filename, ".tar.gz") || strings.HasSuffix(filename, ".zip"):
		format := ".zip"
		if strings.HasSuffix(filename, ".tar.gz") {
			format = ".tar.gz"
		}
		stem := strings.TrimSuffix(filename, format)
		i := strings.LastIndexByte(stem, '-')
		if i < 0 {
			return Dist{}, fmt.Errorf("invalid sdist file name %q: expected NAME-VERSION.tar.gz", printable(filename, 200))
		}
		if i == 0 || !wheelNameRE.MatchString(strings.ReplaceAll(stem[:i], "-", "_")) {
			return Dist{}, fmt.Errorf("invalid sdist file name %q: bad project name", printable(filename, 200))
		}
		v, err := CanonicalVersion(stem[i+1:])
		if err != nil {
			return Dist{}, fmt.Errorf("invalid sdist file name %q: %v", printable(filename, 200), err)
		}
		return Dist{Name: NormalizeName(stem[:i]), Version: v, Sdist: format}, nil
	}
	return Dist{}, fmt.Errorf("%q is neither a wheel (.whl) nor an sdist (.tar.gz, .zip)", printable(filename, 200))
}

// CanonicalVersion parses a PEP 440 version and returns a string equal for
// equal versions (internal/pep440 says how, and proves it against
// packaging).
func CanonicalVersion(v string) (string, error) { return pep440.Canonical(v) }
