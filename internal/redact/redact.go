// Package redact masks secrets in what pipguard shows and keeps them from
// the processes it starts.
//
// String masks, in any text (an error, a hint, pip's own output, a JSON or
// SARIF document):
//
//   - the credentials in a URL's user information, as pip's
//     redact_auth_from_url does (pip/_internal/utils/misc.py): user:pass@
//     becomes user:****@ and a lone token@ becomes ****@; unlike pip, a
//     user name that looks like a token (ghp_…, pypi-…, or a long opaque
//     string, as in https://ghp_…:x-oauth-basic@github.com) or that has an
//     empty password is masked too, and ssh's conventional git@ is kept;
//   - the values of query parameters that carry secrets (token,
//     access_token, X-Amz-Signature, sig, …), wherever they appear;
//   - tokens of the well-known forms (GitHub's ghp_/gho_/ghu_/ghs_/ghr_ and
//     github_pat_, PyPI's pypi-, GitLab's glpat-), wherever they appear.
//
// What it trusts: nothing; it only rewrites text. It never lengthens a
// secret's run of characters into the text around it, so masking a JSON
// document leaves valid JSON.
package redact

import (
	"io"
	"regexp"
	"strings"
)

// Mask is what a secret is replaced with.
const Mask = "****"

// SecretEnv names the environment variables that hold pipguard's secrets:
// GitHub tokens and the cache key. No child process needs them.
var SecretEnv = []string{
	"GH_TOKEN", "GITHUB_TOKEN", "GH_ENTERPRISE_TOKEN", "GITHUB_ENTERPRISE_TOKEN",
	"PIPGUARD_CACHE_KEY",
}

// Environ returns env (KEY=VALUE entries, as os.Environ) without the
// variables SecretEnv names, for a child process.
func Environ(env []string) []string {
	out := make([]string, 0, len(env))
	for _, kv := range env {
		name, _, _ := strings.Cut(kv, "=")
		secret := false
		for _, s := range SecretEnv {
			if name == s {
				secret = true
				break
			}
		}
		if !secret {
			out = append(out, kv)
		}
	}
	return out
}

// SecretParams are the query parameters whose values String masks
// (compared without regard to case).
var SecretParams = []string{
	"token", "access_token", "refresh_token", "id_token", "private_token", "auth", "password", "passwd", "secret", "client_secret",
	"api_key", "apikey", "sig", "signature", "X-Amz-Signature", "X-Amz-Credential", "X-Amz-Security-Token", "X-Goog-Signature", "X-Goog-Credential",
}

var (
	// netlocRE is "://" and what follows up to the URL's path, query or
	// fragment, or the end of the word. A quote or backslash ends it too,
	// so a match never crosses a JSON string's end or one of its escapes.
	netlocRE = regexp.MustCompile(`://[^\s/?#"'<>\\` + "`" + `]*@[^\s/?#"'<>\\` + "`" + `@]*`)
	// paramRE is a secret query parameter and its value; "\u0026" is how
	// encoding/json writes "&".
	paramRE = regexp.MustCompile(`(?i)((?:[?&;]|\\u0026)(?:` + alternatives(SecretParams) + `)=)([^&;#\s"'<>\\` + "`" + `]+)`)
	// tokenRE is a token of a well-known form.
	tokenRE = regexp.MustCompile(`(?:gh[pousr]_[A-Za-z0-9]{20,}|github_pat_[A-Za-z0-9_]{20,}|pypi-[A-Za-z0-9_-]{20,}|glpat-[A-Za-z0-9_-]{20,})`)
	// tokenUserRE is a user name that is rather a token.
	tokenUserRE = regexp.MustCompile(`^(?:gh[pousr]_|github_pat_|pypi-|glpat-|[A-Za-z0-9_\-.~%]{32,}$)`)
)

func alternatives(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = regexp.QuoteMeta(n)
	}
	return strings.Join(q, "|")
}

// String returns s with every secret masked (see the package comment). It
// is idempotent: String(String(s)) == String(s).
func String(s string) string {
	if !maybeSecret(s) {
		return s
	}
	s = netlocRE.ReplaceAllStringFunc(s, func(m string) string {
		netloc := m[len("://"):]
		at := strings.LastIndexByte(netloc, '@')
		return "://" + userinfo(netloc[:at]) + netloc[at:]
	})
	s = paramRE.ReplaceAllStringFunc(s, func(m string) string {
		eq := strings.IndexByte(m, '=')
		return m[:eq+1] + Mask
	})
	return tokenRE.ReplaceAllString(s, Mask)
}

// userinfo masks a URL's user information as pip's redact_netloc does.
func userinfo(auth string) string {
	if strings.Trim(auth, "*:") == "" {
		return auth // masked already (pipguard's own "***" included)
	}
	user, pass, hasPass := strings.Cut(auth, ":")
	if !hasPass && user == "git" {
		return auth // ssh's conventional user, not a secret
	}
	if hasPass && pass != "" && strings.Trim(pass, "*") == "" && !tokenUserRE.MatchString(user) {
		return auth // the password masked already
	}
	if !hasPass || pass == "" || user == "" || tokenUserRE.MatchString(user) {
		return Mask
	}
	return user + ":" + Mask
}

func maybeSecret(s string) bool {
	return strings.Contains(s, "://") || strings.Contains(s, "=") || strings.Contains(s, "_") || strings.Contains(s, "-")
}

// Writer returns a writer that masks every secret in each Write before
// passing it to w. It masks what one Write holds: a secret split across
// two Writes is not seen (pipguard writes whole lines and documents; pip's
// output is passed on line by line).
func Writer(w io.Writer) io.Writer {
	if _, ok := w.(*writer); ok {
		return w
	}
	return &writer{w: w}
}

type writer struct{ w io.Writer }

func (x *writer) Write(p []byte) (int, error) {
	if !maybeSecret(string(p)) {
		return x.w.Write(p)
	}
	s := String(string(p))
	if len(s) == len(p) && s == string(p) {
		return x.w.Write(p)
	}
	if _, err := io.WriteString(x.w, s); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Unwrap returns the writer x writes to (to ask whether it is a terminal).
func (x *writer) Unwrap() io.Writer { return x.w }

// Unwrap returns what w writes to if w is a Writer, else w.
func Unwrap(w io.Writer) io.Writer {
	if x, ok := w.(*writer); ok {
		return x.w
	}
	return w
}
