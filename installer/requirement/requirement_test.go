package requirement

import (
	"errors"
	"net/url"
	"reflect"
	"strings"
	"testing"
)

func TestParseVCS(t *testing.T) {
	tests := []struct {
		in   string
		name string
		ext  []string
		mark string
		want VCSURL
		repo string
	}{
		{
			in:   "fastapi-paseto @ git+https://github.com/Raze-Systems/fastapi-paseto.git@v1.3.1",
			name: "fastapi-paseto",
			want: VCSURL{Scheme: "https", Host: "github.com", Path: "/Raze-Systems/fastapi-paseto.git", Ref: "v1.3.1"},
			repo: "https://github.com/Raze-Systems/fastapi-paseto.git",
		},
		{
			in:   `pkg[extra1, extra2] @ git+https://host/o/r.git@v2 ; python_version >= "3.10"`,
			name: "pkg", ext: []string{"extra1", "extra2"}, mark: `python_version >= "3.10"`,
			want: VCSURL{Scheme: "https", Host: "host", Path: "/o/r.git", Ref: "v2"},
			repo: "https://host/o/r.git",
		},
		{
			in:   "pkg@git+http://127.0.0.1:8080/o/r.git@refs/tags/v1.2.3",
			name: "pkg",
			want: VCSURL{Scheme: "http", Host: "127.0.0.1:8080", Path: "/o/r.git", Ref: "refs/tags/v1.2.3"},
			repo: "http://127.0.0.1:8080/o/r.git",
		},
		{
			in:   "git+ssh://git@github.com/o/r.git@v1#egg=pkg",
			name: "pkg",
			want: VCSURL{Scheme: "ssh", Host: "github.com", Path: "/o/r.git", Ref: "v1", Egg: "pkg"},
			repo: "ssh://git@github.com/o/r.git",
		},
		{
			in:   "git+file:///srv/repos/r@release/2024.1#egg=pkg&subdirectory=src/pkg",
			name: "pkg",
			want: VCSURL{Scheme: "file", Path: "/srv/repos/r", Ref: "release/2024.1", Egg: "pkg", Subdirectory: "src/pkg"},
			repo: "file:///srv/repos/r",
		},
		{
			in:   "  git+https://x-access-token:s3cr@t@github.com/o/r.git@v1  ",
			want: VCSURL{Scheme: "https", Host: "github.com", Path: "/o/r.git", Ref: "v1"},
			repo: "https://github.com/o/r.git",
		},
		{
			in:   "pkg @ git+https://github.com/o/r.git",
			name: "pkg",
			want: VCSURL{Scheme: "https", Host: "github.com", Path: "/o/r.git"},
			repo: "https://github.com/o/r.git",
		},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			r, err := Parse(tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if r.Kind != KindVCS {
				t.Fatalf("kind = %s, want vcs", r.Kind)
			}
			got := *r.VCS
			got.user, got.netloc = nil, ""
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("VCS = %+v\nwant  %+v", got, tt.want)
			}
			if r.Name != tt.name || !reflect.DeepEqual(r.Extras, tt.ext) || r.Marker != tt.mark {
				t.Errorf("name %q extras %q marker %q", r.Name, r.Extras, r.Marker)
			}
			if r.VCS.RepoURL() != tt.repo {
				t.Errorf("RepoURL = %q, want %q", r.VCS.RepoURL(), tt.repo)
			}
		})
	}
}

func TestCredentialsAreKeptButNeverShown(t *testing.T) {
	r, err := Parse("pkg @ git+https://x-access-token:s3cr@t@github.com/o/r.git@v1")
	if err != nil {
		t.Fatal(err)
	}
	user, pw, ok := r.VCS.Credentials()
	if !ok || user != "x-access-token" || pw != "s3cr@t" {
		t.Fatalf("credentials = %q %q %v", user, pw, ok)
	}
	if got := r.VCS.TransportURL(); !strings.Contains(got, "s3cr%40t@github.com") {
		t.Errorf("TransportURL lost the credentials: %s", got)
	}
	for _, s := range []string{r.String(), r.VCS.Redacted(), r.VCS.RepoURL()} {
		if strings.Contains(s, "s3cr") || strings.Contains(s, "x-access-token") {
			t.Errorf("secret shown in %q", s)
		}
	}
	if want := "pkg @ git+https://%2A%2A%2A@github.com/o/r.git@v1"; r.String() != want {
		t.Errorf("String = %q, want %q", r.String(), want)
	}
}

func TestParseErrorsNeverShowSecrets(t *testing.T) {
	for _, in := range []string{
		"pkg @ git+https://ghp_SECRET@github.com/o/r.git@",
		"pkg @ git+https://ghp_SECRET@github.com/o/r.git@v1#sha256=00",
		"pkg @ git+https://u:ghp_SECRET@github.com/o/r.git?x=1",
		"pkg @ git+git://ghp_SECRET@github.com/o/r.git@v1",
	} {
		_, err := Parse(in)
		if err == nil {
			t.Fatalf("%s: no error", in)
		}
		if strings.Contains(err.Error(), "SECRET") {
			t.Errorf("error shows the secret: %v", err)
		}
	}
}

func TestParseOtherKinds(t *testing.T) {
	r, err := Parse(`requests>=2.31 ; python_version >= "3.8"`)
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindIndex || r.Name != "requests" || r.Specifier != ">=2.31" || r.Marker != `python_version >= "3.8"` {
		t.Errorf("index requirement parsed as %+v", r)
	}
	r, err = Parse("wheel @ https://files.example/wheel-0.1-py3-none-any.whl")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindURL {
		t.Errorf("kind = %s, want url", r.Kind)
	}
	r, err = Parse("Some_Project.Name")
	if err != nil {
		t.Fatal(err)
	}
	if r.Kind != KindIndex || r.NormalizedName() != "some-project-name" {
		t.Errorf("got %+v", r)
	}
}

func TestParseErrors(t *testing.T) {
	tests := []struct {
		in, msg string
		col     int
	}{
		{"", "is empty", 0},
		{"@ git+https://h/o/r@v1", "expected a project name", 1},
		{"pkg[a @ git+https://h/o/r@v1", "unterminated extras", 4},
		{"pkg[a,!] @ git+https://h/o/r@v1", `invalid extra "!"`, 5},
		{"pkg @", "missing URL after @", 6},
		{"pkg @ git+https://h/o/r@v1 python_version", "unexpected text after the URL", 28},
		{"pkg @ git+https://h/o/r.git@", "empty ref after @", 28},
		{"pkg @ git+https://h/o/r@v1..2", "not a valid git ref name", 7},
		{"pkg @ git+https://h/o/r@HEAD~1", "not a valid git ref name", 7},
		{"pkg @ git+git@github.com:o/r.git@v1", "is an scp-style git address, which pip does not accept", 7},
		{"pkg @ git+git://github.com/o/r.git@v1", "neither encrypted nor authenticated", 7},
		{"pkg @ git+ftp://github.com/o/r.git@v1", `unsupported git transport "ftp"`, 7},
		{"pkg @ git+https:///o/r@v1", "URL has no host", 7},
		{"pkg @ git+file://server/o/r@v1", `file URL with host "server"`, 7},
		{"pkg @ git+https://h@v1", "no repository path", 7},
		{"pkg @ git+https://h/o/r@v1#egg=other", `name "pkg" does not match #egg=other`, 1},
		{"pkg @ git+https://h/o/r@v1#subdirectory=../x", "invalid #subdirectory=../x", 7},
		{"pkg @ git+https://h/o/r@v1#sha256=abc", `unknown URL fragment "sha256"`, 7},
		{"pkg @ hg+https://h/o/r@v1", "hg is not supported", 7},
		{"-e git+https://h/o/r@v1#egg=pkg", "editable installs cannot be verified", 1},
		{"--index-url https://x", "is a pip option", 1},
		{"pkg ! 1", `is not a PEP 440 version specifier`, 5},
		{"pkg; garbage", "invalid environment marker", 6},
		{"name (>=1.0", "unbalanced parenthesis", 12},
		{"name~=1", "not a PEP 440 version specifier", 5},
		{"pkg\n@ git+https://h/o/r@v1", "line break", 0},
		{"p\x00k\x00g\x00", "NUL byte", 2},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			_, err := Parse(tt.in)
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want *ParseError", err)
			}
			if !strings.Contains(pe.Msg, tt.msg) {
				t.Errorf("msg = %q, want it to contain %q", pe.Msg, tt.msg)
			}
			if pe.Column != tt.col {
				t.Errorf("column = %d, want %d", pe.Column, tt.col)
			}
			if pe.Hint() == "" {
				t.Errorf("no hint for %q", pe.Msg)
			}
			// One requirement, not two: an argument split is no fix.
			if strings.Contains(tt.in, "\x00") && strings.Contains(pe.Hint(), "per argument") {
				t.Errorf("hint %q for a NUL byte", pe.Hint())
			}
		})
	}
}

func TestNormalize(t *testing.T) {
	for in, want := range map[string]string{
		"FastAPI_PASETO": "fastapi-paseto",
		"a.-_b":          "a-b",
		"Friendly-Bard":  "friendly-bard",
		"FRIENDLY.BARD":  "friendly-bard",
	} {
		if got := Normalize(in); got != want {
			t.Errorf("Normalize(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"pkg @ git+https://github.com/o/r.git@v1.3.1",
		`pkg[a,b] @ git+ssh://git@h/o/r.git@refs/tags/v1 ; python_version >= "3"`,
		"git+file:///tmp/r@v1#egg=pkg&subdirectory=x",
		"git+https://tok:en@h/o/r@v1",
		"requests>=2",
		"x @ https://h/x.whl",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		r, err := Parse(in)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("error of type %T: %v", err, err)
			}
			return
		}
		if r.Kind == KindVCS {
			// The rendering must not depend on the secrets: the same
			// requirement with other credentials renders the same. (A
			// substring test cannot tell a secret from a host of the same
			// name: git+http://A0A0@A0A0/0.)
			if len(r.VCS.Secrets()) > 0 {
				other := *r
				v := *r.VCS
				other.VCS = &v
				user := "other-user"
				if v.Scheme == "ssh" {
					user = v.user.Username()
				}
				if _, ok := v.user.Password(); ok {
					v.user = url.UserPassword(user, "other-password")
				} else {
					v.user = url.User(user)
				}
				if r.String() != other.String() {
					t.Fatalf("String %q shows a secret: with other credentials it is %q", r.String(), other.String())
				}
			}
			// What we render must parse back to the same repository and ref.
			if r.VCS.Ref != "" && !r.VCS.HasCredentials() {
				r2, err := Parse(r.String())
				if err != nil {
					t.Fatalf("String() %q does not parse: %v", r.String(), err)
				}
				if r2.VCS.RepoURL() != r.VCS.RepoURL() || r2.VCS.Ref != r.VCS.Ref {
					t.Fatalf("round trip %q -> %q", in, r.String())
				}
			}
		}
	})
}
