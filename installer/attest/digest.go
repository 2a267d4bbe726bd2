package attest

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Artifact is what is being verified: a file on disk, or only a digest.
// Digests of a file are computed by streaming it, on first use, so a large
// asset is never held in memory and sha512 is only computed when a bundle's
// subjects carry nothing else.
type Artifact struct {
	// Name is the file's base name, or "sha256:…" for a bare digest.
	Name    string
	path    string
	digests map[string]string // algorithm -> lowercase hex
}

// ArtifactFromFile returns the artifact at path and hashes it with sha256
// right away (the digest every later stage needs).
func ArtifactFromFile(path string) (*Artifact, error) {
	a := &Artifact{Name: filepath.Base(path), path: path, digests: map[string]string{}}
	if _, err := a.Digest("sha256"); err != nil {
		return nil, err
	}
	return a, nil
}

// ArtifactFromHashedFile is ArtifactFromFile for a file whose sha256 the
// caller computed as it wrote the file (a download into a private
// directory): the file is not read again unless another digest is needed.
func ArtifactFromHashedFile(path, sha256hex string) (*Artifact, error) {
	if len(sha256hex) != 64 {
		return nil, fmt.Errorf("%s: %q is not a sha256 digest", path, sha256hex)
	}
	if _, err := hex.DecodeString(sha256hex); err != nil {
		return nil, fmt.Errorf("%s: %q is not a sha256 digest", path, sha256hex)
	}
	return &Artifact{Name: filepath.Base(path), path: path, digests: map[string]string{"sha256": strings.ToLower(sha256hex)}}, nil
}

// ArtifactFromDigest parses "sha256:HEX" or "sha512:HEX".
func ArtifactFromDigest(s string) (*Artifact, error) {
	alg, hexd, ok := strings.Cut(s, ":")
	alg = strings.ToLower(alg)
	want := map[string]int{"sha256": 64, "sha512": 128}[alg]
	if !ok || want == 0 {
		return nil, fmt.Errorf("digest %q: want sha256:HEX or sha512:HEX", s)
	}
	if len(hexd) != want {
		return nil, fmt.Errorf("digest %q: a %s digest has %d hex characters, got %d", s, alg, want, len(hexd))
	}
	if _, err := hex.DecodeString(hexd); err != nil {
		return nil, fmt.Errorf("digest %q: not hexadecimal", s)
	}
	return &Artifact{Name: alg + ":" + strings.ToLower(hexd), digests: map[string]string{alg: strings.ToLower(hexd)}}, nil
}

// Digest returns the artifact's digest with alg ("sha256" or "sha512"),
// hashing the file if needed. ok is false when the artifact is a bare digest
// of another algorithm.
func (a *Artifact) Digest(alg string) (string, error) {
	if d, ok := a.digests[alg]; ok {
		return d, nil
	}
	if a.path == "" {
		return "", fmt.Errorf("artifact %s has no %s digest", a.Name, alg)
	}
	var h hash.Hash
	switch alg {
	case "sha256":
		h = sha256.New()
	case "sha512":
		h = sha512.New()
	default:
		return "", fmt.Errorf("unsupported digest algorithm %q", alg)
	}
	d, _, err := HashFile(a.path, h)
	if err != nil {
		return "", err
	}
	a.digests[alg] = d
	return d, nil
}

// Digests returns the digests known so far, by algorithm.
func (a *Artifact) Digests() map[string]string {
	out := make(map[string]string, len(a.digests))
	for k, v := range a.digests {
		out[k] = v
	}
	return out
}

// HashFile streams the file at path through h with a fixed 1 MiB buffer
// and returns the hex digest and the number of bytes read.
func HashFile(path string, h hash.Hash) (string, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	n, err := io.CopyBuffer(h, f, make([]byte, 1<<20))
	if err != nil {
		return "", n, fmt.Errorf("hashing %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}
