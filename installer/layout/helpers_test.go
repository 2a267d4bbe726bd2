package layout_test

import (
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
)

func strongDigest(algo, body string) string {
	if algo == "sha384" {
		s := sha512.Sum384([]byte(body))
		return base64.RawURLEncoding.EncodeToString(s[:])
	}
	s := sha512.Sum512([]byte(body))
	return base64.RawURLEncoding.EncodeToString(s[:])
}

func sha256hex(body string) string {
	s := sha256.Sum256([]byte(body))
	return hex.EncodeToString(s[:])
}
