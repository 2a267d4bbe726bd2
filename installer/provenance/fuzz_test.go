package provenance

import (
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzParsers: nothing an index serves makes a parser panic, exceed its
// limits, or accept what it then cannot convert consistently. The seeds
// are the real fixtures (about 10 KiB each): run with -fuzzminimizetime=2s
// or minimising each new input takes a minute.
func FuzzParsers(f *testing.F) {
	files, _ := filepath.Glob("testdata/pep740/*.*")
	for _, p := range files {
		if strings.HasSuffix(p, ".pem") || strings.HasSuffix(p, ".json") {
			continue
		}
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte(`{"version":1,"attestation_bundles":[]}`))
	f.Add([]byte(`{"files":[{"filename":"a-1.0.tar.gz","url":"a","provenance":null}]}`))
	f.Add([]byte(`<a href="/f/a-1.0-py3-none-any.whl" data-provenance="/p">a-1.0-py3-none-any.whl</a>`))
	f.Add([]byte("spt3g-1.0-cp310-cp310-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"))
	base, _ := url.Parse("https://index.test/simple/x/")
	f.Fuzz(func(t *testing.T, data []byte) {
		if p, err := ParseProvenance(data); err == nil {
			if p.Version != 1 || p.Count() > MaxAttestations || len(p.AttestationBundles) > MaxBundles {
				t.Fatalf("accepted beyond the limits: %+v", p)
			}
			for _, b := range p.AttestationBundles {
				for i := range b.Attestations {
					checkAttestation(t, &b.Attestations[i])
				}
			}
		}
		if a, err := ParseAttestation(data); err == nil {
			checkAttestation(t, a)
		}
		s := string(data)
		if d, err := ParseDist(s); err == nil {
			if !d.Equal(d) || d.Name != NormalizeName(d.Name) {
				t.Fatalf("%q: %+v", s, d)
			}
		}
		if v, err := CanonicalVersion(s); err == nil {
			if v2, err := CanonicalVersion(v); err != nil || v2 != v {
				t.Fatalf("CanonicalVersion(%q) = %q, again %q %v", s, v, v2, err)
			}
		}
		parseJSONPage(base, data)
		parseHTMLPage(base, data)
	})
}

func checkAttestation(t *testing.T, a *Attestation) {
	t.Helper()
	vm := a.VerificationMaterial
	if len(vm.Certificate) == 0 || len(vm.Certificate) > MaxCertificate || len(a.Envelope.Statement) > MaxStatement ||
		len(a.Envelope.Signature) > MaxSignature || len(vm.TransparencyEntries) == 0 || len(vm.TransparencyEntries) > MaxEntries {
		t.Fatalf("accepted beyond the limits")
	}
	b, err := ToBundle(a)
	if err != nil {
		return
	}
	back, err := FromBundle(b)
	if err != nil {
		t.Fatalf("a converted bundle does not convert back: %v", err)
	}
	if string(back.Envelope.Statement) != string(a.Envelope.Statement) || string(back.VerificationMaterial.Certificate) != string(vm.Certificate) ||
		len(back.VerificationMaterial.Timestamps) != len(vm.Timestamps) {
		t.Fatal("the conversion lost something")
	}
}
