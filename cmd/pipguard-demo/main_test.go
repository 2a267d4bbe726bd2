package main

import (
	"strings"
	"testing"
)

// The README's first command works offline and every step behaves as it
// says.
func TestDemo(t *testing.T) {
	var out, errs strings.Builder
	if code := run(&out, &errs); code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out.String(), errs.String())
	}
	for _, want := range []string{"-> exit 3, as expected", "-> exit 4, as expected", "pass        tag-binding", "1 verified by pipguard; 0 errors", "Every step behaved as shown."} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("output lacks %q:\n%s", want, out.String())
		}
	}
}
