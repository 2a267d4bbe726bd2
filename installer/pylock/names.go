package pylock

import (
	"fmt"
	"regexp"
	"strings"
	"unicode"

	"github.com/pipguard/pipguard/internal/pep440"
)

// Normalize is PEP 503 name normalisation (packaging's canonicalize_name):
// lower case, runs of "-", "_" and "." become one "-".
func Normalize(name string) string {
	v := strings.ToLower(name)
	v = strings.NewReplacer("_", "-", ".", "-").Replace(v)
	for strings.Contains(v, "--") {
		v = strings.ReplaceAll(v, "--", "-")
	}
	return v
}

var normalizedRE = regexp.MustCompile(`^(?:[a-z0-9]|[a-z0-9][a-z0-9-]*[a-z0-9])$`)

// IsNormalized says whether name is already in PEP 503 normal form.
func IsNormalized(name string) bool {
	return normalizedRE.MatchString(name) && !strings.Contains(name, "--")
}

// WheelName is a parsed wheel file name (the binary distribution format
// spec): "{name}-{version}(-{build})?-{python}-{abi}-{platform}.whl".
type WheelName struct {
	Name    string // normalised
	Version pep440.Version
	Build   string
	// Tags is the expanded compressed tag set, lower case, each
	// "python-abi-platform".
	Tags []string
}

func isWordOrDot(r rune) bool {
	return r == '.' || r == '_' || unicode.IsLetter(r) || unicode.IsNumber(r)
}

// ParseWheelName parses a wheel file name as packaging's
// parse_wheel_filename does.
func ParseWheelName(filename string) (WheelName, error) {
	stem, ok := strings.CutSuffix(filename, ".whl")
	if !ok {
		return WheelName{}, fmt.Errorf("invalid wheel filename %q (extension must be .whl)", filename)
	}
	dashes := strings.Count(stem, "-")
	if dashes != 4 && dashes != 5 {
		return WheelName{}, fmt.Errorf("invalid wheel filename %q (wrong number of parts)", filename)
	}
	parts := strings.SplitN(stem, "-", dashes-1)
	name := parts[0]
	if strings.Contains(name, "__") || strings.IndexFunc(name, func(r rune) bool { return !isWordOrDot(r) }) >= 0 {
		return WheelName{}, fmt.Errorf("invalid project name in wheel filename %q", filename)
	}
	v, err := pep440.Parse(parts[1])
	if err != nil || strings.TrimSpace(parts[1]) != parts[1] {
		return WheelName{}, fmt.Errorf("invalid version in wheel filename %q", filename)
	}
	w := WheelName{Name: Normalize(name), Version: v}
	if dashes == 5 {
		w.Build = parts[2]
		if w.Build == "" || w.Build[0] < '0' || w.Build[0] > '9' {
			return WheelName{}, fmt.Errorf("invalid build number %q in wheel filename %q", w.Build, filename)
		}
	}
	w.Tags = expandTag(parts[len(parts)-1])
	return w, nil
}

// expandTag expands a compressed tag set ("py2.py3-none-any").
func expandTag(tag string) []string {
	f := strings.Split(strings.ToLower(tag), "-")
	if len(f) != 3 {
		return nil
	}
	var out []string
	for _, i := range strings.Split(f[0], ".") {
		for _, a := range strings.Split(f[1], ".") {
			for _, p := range strings.Split(f[2], ".") {
				out = append(out, i+"-"+a+"-"+p)
			}
		}
	}
	return out
}

// ParseSdistName parses "{name}-{version}.tar.gz" or ".zip" as packaging's
// parse_sdist_filename does, returning the normalised name.
func ParseSdistName(filename string) (string, pep440.Version, error) {
	var stem string
	switch {
	case strings.HasSuffix(filename, ".tar.gz"):
		stem = strings.TrimSuffix(filename, ".tar.gz")
	case strings.HasSuffix(filename, ".zip"):
		stem = strings.TrimSuffix(filename, ".zip")
	default:
		return "", pep440.Version{}, fmt.Errorf("invalid sdist filename %q (extension must be .tar.gz or .zip)", filename)
	}
	i := strings.LastIndexByte(stem, '-')
	if i < 0 {
		return "", pep440.Version{}, fmt.Errorf("invalid sdist filename %q", filename)
	}
	v, err := pep440.Parse(stem[i+1:])
	if err != nil {
		return "", pep440.Version{}, fmt.Errorf("invalid version in sdist filename %q", filename)
	}
	return Normalize(stem[:i]), v, nil
}

// fileName is a file's name as PEP 751 defines it: "name", else the last
// component of "path", else the last component of the URL's path.
func fileName(name, path, rawURL string) string {
	if name != "" {
		return name
	}
	if path != "" {
		if i := strings.LastIndexAny(path, "/"); i >= 0 {
			return path[i+1:]
		}
		if i := strings.LastIndexAny(path, `\`); i >= 0 {
			return path[i+1:]
		}
		return path
	}
	if rawURL != "" {
		// The URL's path as written (urlparse does not decode it).
		u := rawURL
		if i := strings.IndexAny(u, "?#"); i >= 0 {
			u = u[:i]
		}
		if i := strings.Index(u, "://"); i >= 0 {
			u = u[i+3:]
			if j := strings.IndexByte(u, '/'); j >= 0 {
				u = u[j:]
			} else {
				u = ""
			}
		}
		return u[strings.LastIndexByte(u, '/')+1:]
	}
	return ""
}
