package redact

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
)

func TestString(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		// pip's redact_auth_from_url: the password masked, the user kept.
		{"https://__token__:pypi-AgEIcHlwaS5vcmcCJGI@upload.pypi.org/legacy/", "https://__token__:****@upload.pypi.org/legacy/"},
		{"https://user:pass@example.com", "https://user:****@example.com"},
		// A lone user is a token.
		{"https://accesstoken@example.com/simple", "https://****@example.com/simple"},
		// Beyond pip: a token as the user name, an empty password.
		{"https://ghp_0123456789abcdefghij0123456789abcdef:x-oauth-basic@github.com/o/r", "https://****@github.com/o/r"},
		{"https://tok:@example.com", "https://****@example.com"},
		{"https://:pw@example.com", "https://****@example.com"},
		// The last @ ends the user information, as urlsplit has it.
		{"https://u:p@ss@example.com/x", "https://u:****@example.com/x"},
		// pip quoting a refused option, a URL inside quotes and brackets.
		{`ERROR: Could not find a version (from --index-url "https://u:s3cret@idx.example/simple")`, `ERROR: Could not find a version (from --index-url "https://u:****@idx.example/simple")`},
		{"git+https://x-access-token:ghs_abc@github.com/o/r.git@v1", "git+https://x-access-token:****@github.com/o/r.git@v1"},
		// Kept: ssh's git@, what is masked already, a URL without user
		// information, an e-mail address, a ref after the path.
		{"ssh://git@github.com/o/r.git", "ssh://git@github.com/o/r.git"},
		{"https://***@github.com/o/r", "https://***@github.com/o/r"},
		{"https://u:***@github.com/o/r", "https://u:***@github.com/o/r"},
		{"https://github.com/o/r.git@v1.0.0", "https://github.com/o/r.git@v1.0.0"},
		{"mail me@example.com", "mail me@example.com"},
		// Secret query parameters, by name, without regard to case.
		{"https://h/x?token=abc&b=1", "https://h/x?token=****&b=1"},
		{"https://h/x?b=1&access_token=abc#frag", "https://h/x?b=1&access_token=****#frag"},
		{"https://s3/x?X-Amz-Credential=AK%2F1&X-Amz-Signature=deadbeef", "https://s3/x?X-Amz-Credential=****&X-Amz-Signature=****"},
		{"https://blob/x?sv=2020&SIG=abc%3D", "https://blob/x?sv=2020&SIG=****"},
		{"https://h/x?tokenizer=1&mytoken=2", "https://h/x?tokenizer=1&mytoken=2"},
		{`"https://h/x?a=1\u0026token=abc"`, `"https://h/x?a=1\u0026token=****"`},
		// Tokens of the well-known forms, anywhere.
		{"password ghp_0123456789abcdefghijABCDEFGHIJ0123 expanded from ${TOKEN}", "password **** expanded from ${TOKEN}"},
		{"pypi-AgEIcHlwaS5vcmcCJGI0NzE2", "****"},
		{"nothing secret here", "nothing secret here"},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q)\n = %q\nwant %q", c.in, got, c.want)
		}
		if got := String(String(c.in)); got != String(c.in) {
			t.Errorf("not idempotent on %q: %q", c.in, got)
		}
	}
}

// Masking a JSON document leaves it valid, its secrets masked.
func TestStringKeepsJSONValid(t *testing.T) {
	doc := map[string]any{"message": `pip: --index-url "https://u:p\"w@h/simple?x=1&token=t"`, "url": "https://__token__:pypi-x@h/"}
	data, _ := json.Marshal(doc)
	out := String(string(data))
	var back map[string]string
	if err := json.Unmarshal([]byte(out), &back); err != nil {
		t.Fatalf("%s: %v", out, err)
	}
	if strings.Contains(out, "pypi-x") || strings.Contains(out, "token=t") {
		t.Errorf("secret left in %s", out)
	}
}

func TestWriter(t *testing.T) {
	var b bytes.Buffer
	w := Writer(&b)
	in := "pip: https://u:hunter2@h/simple\n"
	n, err := w.Write([]byte(in))
	if n != len(in) || err != nil {
		t.Fatalf("Write = %d, %v", n, err)
	}
	if b.String() != "pip: https://u:****@h/simple\n" {
		t.Errorf("wrote %q", b.String())
	}
	if Unwrap(w) != &b || Writer(w) != w {
		t.Error("Unwrap or Writer(Writer) is not the writer")
	}
}

func TestEnviron(t *testing.T) {
	got := Environ([]string{"PATH=/bin", "GH_TOKEN=a", "GITHUB_TOKEN=b", "GH_ENTERPRISE_TOKEN=c", "GITHUB_ENTERPRISE_TOKEN=d", "PIPGUARD_CACHE_KEY=e", "HOME=/h", "GH_TOKENS=kept"})
	if strings.Join(got, " ") != "PATH=/bin HOME=/h GH_TOKENS=kept" {
		t.Errorf("Environ = %v", got)
	}
}

// FuzzString: masking is idempotent, and never lets a URL's password (or
// a lone user, or a secret parameter's value) through. The oracle is
// non-interference: the same text with another password masks to the
// same output, so no part of the password can be in it.
func FuzzString(f *testing.F) {
	f.Add("pip: ", "__token__", "pypi-secret", "idx.example/simple", "token", "abc", " end")
	f.Add(`"`, "", "tok", "h", "sig", "x%3D", `"`)
	f.Add("", "u", "p@ss", "h:8080", "X-Amz-Signature", "dead", "")
	f.Fuzz(func(t *testing.T, prefix, user, pass, host, param, value, suffix string) {
		if got := String(prefix + user + pass + host + suffix); String(got) != got {
			t.Fatalf("not idempotent: %q -> %q -> %q", prefix+user+pass+host+suffix, got, String(got))
		}
		if !userinfoChars(user) || strings.Contains(user, ":") || !userinfoChars(pass) || strings.Trim(pass, "*") == "" || !userinfoChars(host) || strings.Contains(host, "@") {
			return
		}
		render := func(pass, value string) string {
			return String(prefix + "https://" + user + ":" + pass + "@" + host + "/p?" + param + "=" + value + "&z=1" + suffix)
		}
		other := "Z" + strings.Repeat("q", len(pass))
		if a, b := render(pass, value), render(other, value); a != b {
			t.Errorf("the password shows:\n%q\n%q", a, b)
		}
		lone := func(user string) string { return String(prefix + "https://" + user + "@" + host + suffix) }
		if user != "" && user != "git" && strings.Trim(user, "*") != "" && strings.Trim("Z"+user, "*") != "" {
			if a, b := lone(user), lone("Z"+user); a != b {
				t.Errorf("a lone user shows:\n%q\n%q", a, b)
			}
		}
		if isSecretParam(param) && valueChars(value) && value != "" {
			if a, b := render(pass, value), render(pass, "Q"+value); a != b {
				t.Errorf("the %s value shows:\n%q\n%q", param, a, b)
			}
		}
	})
}

// userinfoChars: RFC 3986's userinfo (unreserved, sub-delims, ":" and
// percent-encodings), which a URL's password is made of.
func userinfoChars(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~!$&'()*+,;=:%", r)) {
			return false
		}
	}
	return !strings.ContainsAny(s, "'") // a quote ends the URL in text
}

func valueChars(s string) bool {
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("-._~%+", r)) {
			return false
		}
	}
	return true
}

func isSecretParam(p string) bool {
	for _, s := range SecretParams {
		if strings.EqualFold(p, s) {
			return true
		}
	}
	return false
}
