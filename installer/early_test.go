package installer

import (
	"errors"
	"strings"
	"testing"

	"github.com/pipguard/pipguard/installer/gitref"
	"github.com/pipguard/pipguard/installer/reqfile"
	"github.com/pipguard/pipguard/installer/requirement"
)

// TestRefuseByText: what the ref's text alone decides is refused without
// a network (these repositories do not exist: listing them would fail);
// what needs the remote is left to it.
func TestRefuseByText(t *testing.T) {
	for _, c := range []struct {
		req  string
		want string // "" when left to the remote
	}{
		{"a @ git+https://github.com/o/r.git@main", `argument 1: ref "main" of github.com/o/r is a branch by its name, which moves with every push`},
		{"a @ git+https://github.com/o/r.git", `argument 1: ref "" of github.com/o/r is missing: pip would install the default branch`},
		{"a @ git+https://github.com/o/r.git@abc1234", `argument 1: ref "abc1234" of github.com/o/r is a short commit SHA`},
		{"a @ git+https://github.com/o/r.git@HEAD", `is the default branch's tip`},
		{"a @ git+https://github.com/o/r.git@refs/heads/v1", `is a branch by its name`},
		{"a @ git+https://github.com/o/r.git@refs/pull/1/head", `is not a tag`},
		{"a @ git+https://github.com/o/r.git@feature/x", `is a branch by its name`},
		{"a @ git+https://github.com/o/r.git@v1.2.3", ""},
		{"a @ git+https://github.com/o/r.git@refs/tags/main", ""},
		{"a @ git+https://github.com/o/r.git@" + strings.Repeat("a", 40), ""},
		{"a @ git+https://github.com/o/r.git@stuff", ""}, // no digit: the remote says whether it exists
		{"requests==2.0", ""},
	} {
		req, err := requirement.Parse(c.req)
		if err != nil {
			t.Fatal(err)
		}
		err = RefuseByText([]reqfile.Entry{{Req: req, ReqText: c.req, Line: 1}})
		switch {
		case c.want == "" && err != nil:
			t.Errorf("%s: refused: %v", c.req, err)
		case c.want != "" && (err == nil || !strings.Contains(err.Error(), c.want)):
			t.Errorf("%s: got %v, want %q", c.req, err, c.want)
		case c.want != "":
			var re *gitref.RefusedError
			if !errors.As(err, &re) || re.Hint() == "" {
				t.Errorf("%s: %v is no *gitref.RefusedError with a hint", c.req, err)
			}
		}
	}
	// Every one is reported, and constraints are not requirements.
	var es []reqfile.Entry
	for i, s := range []string{"a @ git+https://github.com/o/a.git@main", "b @ git+https://github.com/o/b.git@dev"} {
		r, _ := requirement.Parse(s)
		es = append(es, reqfile.Entry{Req: r, File: "req.txt", Line: i + 1})
	}
	err := RefuseByText(es)
	if err == nil || len(err.(interface{ Unwrap() []error }).Unwrap()) != 2 || !strings.Contains(err.Error(), "req.txt:2: ") {
		t.Errorf("got %v, want both refused, named by file and line", err)
	}
}
