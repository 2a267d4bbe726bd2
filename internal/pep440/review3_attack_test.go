package pep440

import "testing"

// packaging reads a numeric local segment as an int, however large
// (_parse_local_version: int(part) if part.isdigit()), and an int sorts
// after any string segment. Here a segment too large for strconv.Atoi is
// compared as a string, so the order is inverted: wheel.Choose (which
// follows pip's order, the highest version first) then picks another
// release asset than pip would for the same interpreter.
func TestAttackHugeNumericLocalSegmentSortsAsString(t *testing.T) {
	big := MustParse("1.0+99999999999999999999")
	str := MustParse("1.0+zzz")
	if c := big.Compare(str); c != 1 {
		t.Errorf("Compare(1.0+99999999999999999999, 1.0+zzz) = %d; packaging says 1 (a numeric local segment sorts after a string)", c)
	}
	// Two huge numbers compare as numbers in packaging: 100000000000000000000 > 99999999999999999999.
	a := MustParse("1.0+100000000000000000000")
	b := MustParse("1.0+99999999999999999999")
	if c := a.Compare(b); c != 1 {
		t.Errorf("Compare(1.0+1e20, 1.0+99999999999999999999) = %d; packaging says 1", c)
	}
}
