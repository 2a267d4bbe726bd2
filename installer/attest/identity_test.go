package attest

import (
	"os"
	"strings"
	"testing"

	"github.com/sigstore/sigstore-go/pkg/root"
)

// Identity names where trusted material came from and what it is: the same
// root, given as a file (--trusted-root, $PIPGUARD_TRUSTED_ROOT) or as
// material (NewTrust; TUF's is "tuf"), never has one identity, so nothing
// remembered under one is found under the other; another root file is
// another identity; the same file twice is one.
func TestTrustIdentity(t *testing.T) {
	a := trustFiles(t, "public-good.json")
	id, ok := a.Identity(PublicGood)
	if !ok || !strings.HasPrefix(id, "files:public-good:") {
		t.Fatalf("files: %q %v", id, ok)
	}
	if again, _ := trustFiles(t, "public-good.json").Identity(PublicGood); again != id {
		t.Errorf("the same file: %q, then %q", id, again)
	}
	if other, _ := trustFiles(t, "public-good-2023.json").Identity(PublicGood); other == id {
		t.Errorf("another root file has the identity %q", other)
	}
	data, err := os.ReadFile(td("trusted-roots", "public-good.json"))
	if err != nil {
		t.Fatal(err)
	}
	tr, err := root.NewTrustedRootFromJSON(data)
	if err != nil {
		t.Fatal(err)
	}
	given, ok := NewTrust(map[Deployment]root.TrustedMaterial{PublicGood: tr}).Identity(PublicGood)
	if !ok || !strings.HasPrefix(given, "given:public-good:") || given == id {
		t.Errorf("given: %q %v (files: %q)", given, ok, id)
	}
	if _, ok := a.Identity(GitHub); ok {
		t.Errorf("a deployment with no material has an identity")
	}
}
