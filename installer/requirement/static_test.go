package requirement

import "testing"

func TestIsPinned(t *testing.T) {
	for spec, want := range map[string]bool{"==1.0": true, "=== 1.0": true, "==1.*": false, ">=1": false, "==1.0,!=1.1": false, "": false} {
		if IsPinned(spec) != want {
			t.Errorf("%q: %v", spec, !want)
		}
	}
}
