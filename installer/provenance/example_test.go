package provenance_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"

	"github.com/sigstore/sigstore-go/pkg/root"

	"github.com/pipguard/pipguard/installer/provenance"
)

// How an install checks one locked file: find and fetch its provenance on
// the index, verify it by the sha256 pipguard computed, and record the
// publisher read from the certificate.
func Example() {
	var (
		client   = http.DefaultClient  // carries the index's credentials, never a GitHub token
		material root.TrustedMaterial  // the public-good trusted root (TUF, or --trusted-root)
		pinned   *provenance.Publisher // from the policy; nil when none is pinned
	)
	ctx := context.Background()
	f, err := provenance.NewFetcher(client, "https://pypi.org/simple/")
	if err != nil {
		return
	}
	v, err := provenance.NewVerifier(material)
	if err != nil {
		return
	}
	got, err := f.Fetch(ctx, "sampleproject", "4.0.0", "sampleproject-4.0.0.tar.gz")
	switch {
	case errors.Is(err, provenance.ErrNoProvenance), errors.Is(err, provenance.ErrDisabled):
		fmt.Println("not attested") // index_attestations = "require" refuses it
		return
	case err != nil:
		fmt.Println("refused:", err) // *HostError, *FetchError (ErrTooLarge, timeout), *FormatError
		return
	}
	res, err := v.VerifyProvenance(got.Provenance, provenance.Expected{
		Filename:  "sampleproject-4.0.0.tar.gz",
		SHA256:    "0ace7980f82c5815ede4cd7bf9f6693684cec2ae47b9b7ade9add533b8627c6b",
		Publisher: pinned,
	})
	if err != nil {
		fmt.Println("refused:", err) // *Error wrapping ErrRefused, ErrUnverifiable or ErrNoProvenance
		return
	}
	fmt.Println("attested by", res.Publisher, "log index", res.Attestations[0].LogIndex)
}
