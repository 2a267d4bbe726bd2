package reqfile

import (
	"fmt"
	"sort"
	"strings"
)

// pip's requirements-file option parser (optparse), as pip 23.0 to 24.x
// build it.

type optKind int

const (
	optFlag   optKind = iota // store_true
	optStore                 // store a value (last wins)
	optAppend                // append a value
)

type optDef struct {
	long  string // canonical long name
	short string
	kind  optKind
	// since23_1 is -C/--config-settings (pip 23.1 and later); until23_1
	// is --install-option (pip 23.0 only).
	since23_1, until23_1 bool
}

var optDefs = []optDef{
	{long: "--index-url", short: "-i", kind: optStore},
	{long: "--pypi-url", kind: optStore}, // an alias of --index-url
	{long: "--extra-index-url", kind: optAppend},
	{long: "--no-index", kind: optFlag},
	{long: "--constraint", short: "-c", kind: optAppend},
	{long: "--requirement", short: "-r", kind: optAppend},
	{long: "--editable", short: "-e", kind: optAppend},
	{long: "--find-links", short: "-f", kind: optAppend},
	{long: "--no-binary", kind: optAppend},
	{long: "--only-binary", kind: optAppend},
	{long: "--prefer-binary", kind: optFlag},
	{long: "--require-hashes", kind: optFlag},
	{long: "--pre", kind: optFlag},
	{long: "--trusted-host", kind: optAppend},
	{long: "--use-feature", kind: optAppend},
	{long: "--install-option", kind: optAppend, until23_1: true},
	{long: "--global-option", kind: optAppend},
	{long: "--hash", kind: optAppend},
	{long: "--config-settings", short: "-C", kind: optAppend, since23_1: true},
}

// features are --use-feature's choices.
var features = map[string]bool{"fast-deps": true, "truststore": true, "no-binary-enable-wheel-cache": true}

// strongHashes are the --hash algorithms pip takes.
var strongHashes = map[string]bool{"sha256": true, "sha384": true, "sha512": true}

// optValue is one option as given on a line, in order.
type optValue struct {
	name  string // canonical long name
	value string
}

type optError struct {
	msg    string
	strict string
}

func (e *optError) Error() string { return e.msg }

// matchLong resolves a long option or an abbreviation of one in the
// option set of one pip version.
func matchLong(s string, old bool) (string, error) {
	var poss []string
	for _, d := range optDefs {
		if old && d.since23_1 || !old && d.until23_1 {
			continue
		}
		if d.long == s {
			return s, nil
		}
		if strings.HasPrefix(d.long, s) {
			poss = append(poss, d.long)
		}
	}
	switch len(poss) {
	case 0:
		return "", fmt.Errorf("no such option: %s", s)
	case 1:
		return poss[0], nil
	}
	sort.Strings(poss)
	return "", fmt.Errorf("ambiguous option: %s (%s?)", s, strings.Join(poss, ", "))
}

func findDef(long string) optDef {
	for _, d := range optDefs {
		if d.long == long {
			return d
		}
	}
	panic(long)
}

// parseOptions is optparse's parse_args over pip's options: it returns the
// options in order; positional arguments (which pip ignores) are dropped.
func parseOptions(args []string) ([]optValue, error) {
	var out []optValue
	take := func(d optDef, opt string, value *string, rest *[]string) error {
		if d.kind == optFlag {
			if value != nil {
				return &optError{msg: fmt.Sprintf("%s option does not take a value", opt)}
			}
			out = append(out, optValue{name: d.long})
			return nil
		}
		v := ""
		if value != nil {
			v = *value
		} else {
			if len(*rest) == 0 {
				return &optError{msg: fmt.Sprintf("%s option requires 1 argument", opt)}
			}
			v = (*rest)[0]
			*rest = (*rest)[1:]
		}
		name := d.long
		if name == "--pypi-url" {
			name = "--index-url"
		}
		if err := checkValue(name, opt, v); err != nil {
			return err
		}
		out = append(out, optValue{name: name, value: v})
		return nil
	}
	rest := args
	for len(rest) > 0 {
		arg := rest[0]
		rest = rest[1:]
		switch {
		case arg == "--":
			return out, nil
		case strings.HasPrefix(arg, "--"):
			opt, value, hasValue := strings.Cut(arg, "=")
			long, err := matchLong(opt, false)
			oldLong, oldErr := matchLong(opt, true)
			switch {
			case oldErr == nil && oldLong == "--install-option" && err != nil:
				return nil, &optError{msg: "unsupported per-requirement option --install-option: it runs setup.py install with arbitrary arguments", strict: StrictOption}
			case err != nil && oldErr != nil:
				return nil, &optError{msg: err.Error()}
			case err != nil || oldErr != nil || long != oldLong:
				// pip 23.0 and later versions read it differently.
				if long == "--config-settings" && oldErr != nil && !strings.HasPrefix("--constraint", opt) {
					break // pip 23.0 has no --config-settings: it fails on the file
				}
				return nil, &optError{msg: fmt.Sprintf("option %s means different things to different pip versions", opt), strict: StrictOption}
			}
			var vp *string
			if hasValue {
				vp = &value
			}
			if err := take(findDef(long), long, vp, &rest); err != nil {
				return nil, err
			}
		case strings.HasPrefix(arg, "-") && len(arg) > 1:
			for i := 1; i < len(arg); i++ {
				opt := "-" + string(arg[i])
				var d *optDef
				for j := range optDefs {
					if optDefs[j].short == opt {
						d = &optDefs[j]
					}
				}
				if d == nil {
					return nil, &optError{msg: fmt.Sprintf("no such option: %s", opt)}
				}
				var vp *string
				if i+1 < len(arg) {
					v := arg[i+1:]
					vp = &v
				}
				if err := take(*d, opt, vp, &rest); err != nil {
					return nil, err
				}
				break // every short option takes a value
			}
		}
	}
	return out, nil
}

// checkValue is the validation pip's option callbacks and choices do.
func checkValue(name, opt, v string) error {
	switch name {
	case "--use-feature":
		if !features[v] {
			return &optError{msg: fmt.Sprintf("option %s: invalid choice: %q", opt, v)}
		}
	case "--no-binary", "--only-binary":
		if strings.HasPrefix(v, "-") {
			return &optError{msg: "--no-binary / --only-binary option requires 1 argument."}
		}
	case "--hash":
		algo, _, ok := strings.Cut(v, ":")
		if !ok {
			return &optError{msg: fmt.Sprintf("Arguments to %s must be a hash name followed by a value, like --hash=sha256:abcde...", opt)}
		}
		if !strongHashes[algo] {
			return &optError{msg: fmt.Sprintf("Allowed hash algorithms for %s are sha256, sha384, sha512.", opt)}
		}
	case "--config-settings":
		if !strings.Contains(v, "=") {
			return &optError{msg: fmt.Sprintf("Arguments to %s must be of the form KEY=VAL", opt)}
		}
	}
	return nil
}
