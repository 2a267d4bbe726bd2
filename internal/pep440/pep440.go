// Package pep440 reads Python versions and version specifiers as
// packaging (the library pip vendors) reads, orders and compares them.
//
// It trusts nothing about its input: any string is either a PEP 440
// version or an error that quotes at most 100 printable characters of it.
// Two versions are equal, as packaging's Version compares them, exactly
// when their Canonical forms are equal; TestCanonicalAgainstPackaging runs
// packaging on the same strings, and installer/pylock's differential tests
// run packaging's SpecifierSet on the specifiers.
package pep440

import "github.com/pipguard/pipguard/internal/termsafe"

// MaxLen bounds the input: no real version is longer, and the regular
// expression's cost stays small.
const MaxLen = 200

// Canonical parses a PEP 440 version and returns a string that is equal
// for equal versions: the normal form (1.0RC1 is 1.0rc1, 1.0-1 is
// 1.0.post1, alpha is a, c and pre are rc), without an epoch of 0, with
// trailing zero release segments dropped (1.0.0 is 1, as
// packaging.utils.canonicalize_version writes it) and numeric local
// segments without leading zeros (+01 is +1). It refuses what Parse
// refuses.
func Canonical(s string) (string, error) {
	v, err := Parse(s)
	if err != nil {
		return "", err
	}
	for len(v.Release) > 1 && v.Release[len(v.Release)-1] == 0 {
		v.Release = v.Release[:len(v.Release)-1]
	}
	return v.String(), nil
}

// printable is s on one line without control bytes, at most max runes
// (termsafe.Clip).
func printable(s string, max int) string { return termsafe.Clip(s, max) }
