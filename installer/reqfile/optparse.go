package reqfile

import (
	"fmt"
	"sort"
	"strings"
)

// pip's requirements-file option parser (optparse), as each generation
// of pip the differential test runs builds it: pip 23.0 (Debian's
// 23.0.1), 23.1 to 24.x (23.2.1, 24.2) and 26.x (26.2).

type optKind int

const (
	optFlag   optKind = iota // store_true
	optStore                 // store a value (last wins)
	optAppend                // append a value
)

// gen is one generation of pip's requirements-file options.
type gen uint8

const (
	pip230  gen = 1 << iota // pip 23.0: --install-option, no -C
	pip231                  // pip 23.1 to 24.x: -C/--config-settings, --global-option
	pip26                   // pip 26: --all-releases, --only-final, --no-require-hashes; no --global-option
	allGens = pip230 | pip231 | pip26
)

// gens are the generations in order, oldest first.
var gens = []gen{pip230, pip231, pip26}

func (g gen) String() string {
	switch g {
	case pip230:
		return "pip 23.0"
	case pip231:
		return "pip 23.1 to 24"
	case pip26:
		return "pip 26"
	}
	return "pip"
}

type optDef struct {
	long  string // canonical long name
	short string
	kind  optKind
	// in are the generations that have it (0: all of them).
	in gen
}

func (d optDef) has(g gen) bool { return d.in == 0 || d.in&g != 0 }

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
	{long: "--install-option", kind: optAppend, in: pip230},
	{long: "--global-option", kind: optAppend, in: pip230 | pip231},
	{long: "--hash", kind: optAppend},
	{long: "--config-settings", short: "-C", kind: optAppend, in: pip231 | pip26},
	{long: "--all-releases", kind: optAppend, in: pip26},
	{long: "--only-final", kind: optAppend, in: pip26},
	{long: "--no-require-hashes", kind: optFlag, in: pip26},
}

// features are --use-feature's choices, with the generations that offer
// each.
var features = map[string]gen{
	"fast-deps": allGens, "truststore": allGens, "no-binary-enable-wheel-cache": allGens,
	"inprocess-build-deps": pip26, "venv-isolation": pip26, "build-constraint": pip26,
}

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
	fix    string
}

func (e *optError) Error() string { return e.msg }

// matchLong resolves a long option or an abbreviation of one in the
// option set of one pip generation.
func matchLong(s string, g gen) (string, error) {
	var poss []string
	for _, d := range optDefs {
		if !d.has(g) {
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

// resolveLong is the option every generation of pip reads for s, or why
// not: an error every generation gives (pip refuses the file), or a
// strict refusal when the generations read s differently.
func resolveLong(s string) (string, error) {
	longs := map[gen]string{}
	ambiguous := map[gen]bool{}
	var errs []error
	var fails gen
	for _, g := range gens {
		l, err := matchLong(s, g)
		longs[g] = l
		if err != nil {
			errs = append(errs, err)
			fails |= g
			ambiguous[g] = strings.HasPrefix(err.Error(), "ambiguous")
		}
	}
	newest := longs[pip26]
	switch {
	case fails == allGens:
		return "", &optError{msg: errs[len(errs)-1].Error()}
	case fails == 0 && longs[pip230] == newest && longs[pip231] == newest:
		return newest, nil
	case fails == pip231|pip26 && longs[pip230] == "--install-option":
		return "", &optError{msg: "unsupported per-requirement option --install-option: it runs setup.py install with arbitrary arguments", strict: StrictOption}
	case fails == pip230 && longs[pip231] == "--config-settings" && newest == "--config-settings":
		// pip 23.0 has no --config-settings: it fails on the file
		// (counted apart by the differential test).
		return newest, nil
	case fails == pip26 && longs[pip230] == "--global-option" && longs[pip231] == "--global-option":
		return "", &optError{msg: "option --global-option: pip 23 and 24 pass it to setup.py, pip 26 has no such option", strict: StrictOption,
			fix: "drop it: it only ever reached setup.py builds"}
	case fails == pip230|pip231 && newest != "":
		name := s
		if newest != s {
			name = s + " (" + newest + ")"
		}
		return "", &optError{msg: fmt.Sprintf("option %s exists in pip 26 only: pip 23 and 24 refuse the file", name), strict: StrictOption,
			fix: "use options every pip reads (--pre for --all-releases :all:)"}
	}
	var reads []string
	for _, g := range gens {
		switch {
		case longs[g] != "":
			reads = append(reads, g.String()+" reads "+longs[g])
		case ambiguous[g]:
			reads = append(reads, g.String()+" finds it ambiguous")
		default:
			reads = append(reads, g.String()+" has no such option")
		}
	}
	return "", &optError{msg: fmt.Sprintf("option %s means different things to different pip versions (%s)", s, strings.Join(reads, ", ")), strict: StrictOption,
		fix: "write the option's full name"}
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
			long, err := resolveLong(opt)
			if err != nil {
				return nil, err
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
		switch g := features[v]; {
		case g == 0:
			return &optError{msg: fmt.Sprintf("option %s: invalid choice: %q", opt, v)}
		case g != allGens:
			return &optError{msg: fmt.Sprintf("option %s: feature %q exists in pip 26 only: pip 23 and 24 refuse the file", opt, v), strict: StrictOption,
				fix: "drop it"}
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
