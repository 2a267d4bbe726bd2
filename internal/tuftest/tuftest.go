// Package tuftest writes real TUF repositories (metadata signed with real
// ed25519 keys by go-tuf) for tests, in the layout of Sigstore's
// repositories: consistent snapshots, a target trusted_root.json, and a
// first root version that has expired and was replaced by version 2, like
// the roots pipguard embeds. It trusts nothing; tests serve its directory
// over HTTP and start clients from its first root.
package tuftest

import (
	"crypto"
	"crypto/ed25519"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"time"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/theupdateframework/go-tuf/v2/metadata"
)

// TB is what tuftest needs of a test.
type TB interface {
	Helper()
	Fatal(...any)
	TempDir() string
	Cleanup(func())
}

// Repo is a TUF repository on disk and the key that signs every role.
type Repo struct {
	// Dir is the repository's root (N.root.json, timestamp.json, targets/).
	Dir string
	// First is the expired 1.root.json a client starts from.
	First  []byte
	Signer signature.Signer
}

// Signable is TUF metadata that can be signed and written.
type Signable interface {
	Sign(signature.Signer) (*metadata.Signature, error)
	ToFile(string, bool) error
}

// New writes a repository serving trustedRoot as trusted_root.json, its
// metadata valid for a week.
func New(t TB, trustedRoot []byte) *Repo {
	t.Helper()
	dir := t.TempDir()
	signer, key := Key(t)
	week := time.Now().Add(7 * 24 * time.Hour)

	targets := metadata.Targets(week)
	tf, err := metadata.TargetFile().FromBytes("trusted_root.json", trustedRoot, "sha256")
	if err != nil {
		t.Fatal(err)
	}
	targets.Signed.Targets["trusted_root.json"] = tf
	root := metadata.Root(time.Now().Add(-24 * time.Hour)) // version 1: expired
	for _, role := range []string{"root", "targets", "snapshot", "timestamp"} {
		if err := root.Signed.AddKey(key, role); err != nil {
			t.Fatal(err)
		}
	}
	r := &Repo{Dir: dir, Signer: signer}
	r.SignWrite(t, "1.root.json", root)
	first, err := os.ReadFile(filepath.Join(dir, "1.root.json"))
	if err != nil {
		t.Fatal(err)
	}
	r.First = first
	root.Signed.Version = 2
	root.Signed.Expires = week
	root.ClearSignatures()
	r.SignWrite(t, "2.root.json", root)

	r.SignWrite(t, "1.targets.json", targets)
	r.SignWrite(t, "1.snapshot.json", metadata.Snapshot(week))
	r.SignWrite(t, "timestamp.json", metadata.Timestamp(week))

	if err := os.MkdirAll(filepath.Join(dir, "targets"), 0o755); err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(trustedRoot)
	if err := os.WriteFile(filepath.Join(dir, "targets", hex.EncodeToString(sum[:])+".trusted_root.json"), trustedRoot, 0o644); err != nil {
		t.Fatal(err)
	}
	return r
}

// Serve serves the repository over HTTP until Close (or the test's end).
func (r *Repo) Serve(t TB) *httptest.Server {
	srv := httptest.NewServer(http.FileServer(http.Dir(r.Dir)))
	t.Cleanup(srv.Close)
	return srv
}

// Key is a fresh ed25519 signer and its TUF key.
func Key(t TB) (signature.Signer, *metadata.Key) {
	t.Helper()
	_, priv, err := ed25519.GenerateKey(nil)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signature.LoadSigner(priv, crypto.Hash(0))
	if err != nil {
		t.Fatal(err)
	}
	key, err := metadata.KeyFromPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	return signer, key
}

// SignWrite signs m with the repository's key and writes it as name under
// the repository (or under dir, when given).
func (r *Repo) SignWrite(t TB, name string, m Signable, dir ...string) {
	t.Helper()
	if _, err := m.Sign(r.Signer); err != nil {
		t.Fatal(err)
	}
	d := r.Dir
	if len(dir) > 0 {
		d = dir[0]
	}
	if err := m.ToFile(filepath.Join(d, name), true); err != nil {
		t.Fatal(err)
	}
}
