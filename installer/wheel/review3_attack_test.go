package wheel

import "testing"

// Choose claims pip's order (TestChooseAgainstPip); these release asset
// lists, answered by pip 23.2.1's own CandidateEvaluator (chooseScript),
// make it pick another wheel than pip: a local label's numeric segment
// too large for an int is ordered as a string (pep440.compareLocal), and a
// build tag's number is cut at 2^40 (buildKey), so two build numbers
// longer than 13 digits tie and the asset listed first wins.
func TestAttackChooseDivergesFromPipOnHugeNumbers(t *testing.T) {
	for _, c := range []struct {
		files []string
		pip   string
	}{
		{[]string{"demo-1.0+zzz-py3-none-any.whl", "demo-1.0+99999999999999999999-py3-none-any.whl"}, "demo-1.0+99999999999999999999-py3-none-any.whl"},
		{[]string{"demo-1.0-100000000000000-py3-none-any.whl", "demo-1.0-100000000000009-py3-none-any.whl"}, "demo-1.0-100000000000009-py3-none-any.whl"},
	} {
		got, err := Choose(c.files, "demo", "1.0", []string{"py3-none-any"}, false)
		if err != nil {
			t.Fatal(err)
		}
		if got.Asset != c.pip {
			t.Errorf("%v: pipguard picks %s, pip picks %s", c.files, got.Asset, c.pip)
		}
	}
}

// An sdist's name is matched with == semantics (a local label accepted),
// but the asset picked among several is the last .tar.gz listed, not
// pip's highest version; and buildstage then compares the built wheel's
// METADATA with the tag's version (no local label), so the sdist Choose
// accepted as demo-1.0+evil is built (its backend runs) before being
// refused, while one named 1.0+x whose METADATA says 1.0 is accepted.
func TestAttackSdistWithLocalLabelIsChosenAgainstPipsOrder(t *testing.T) {
	got, err := Choose([]string{"demo-1.0+zzz.tar.gz", "demo-1.0.tar.gz"}, "demo", "1.0", []string{"py3-none-any"}, true)
	if err != nil {
		t.Fatal(err)
	}
	// pip, given both sdists for demo==1.0, takes the highest version,
	// 1.0+zzz; swapping the listing order changes pipguard's pick.
	if got.Asset != "demo-1.0+zzz.tar.gz" {
		t.Errorf("pipguard picks %s; pip's order picks demo-1.0+zzz.tar.gz", got.Asset)
	}
}
