package provenance

import (
	"context"
	"fmt"
	"sync"
	"testing"

	"github.com/pipguard/pipguard/internal/pkgtest"
	"github.com/pipguard/pipguard/internal/sigstoretest"
)

// BenchmarkProvenance100 is issue 19's P8, cold: 100 index files, each of
// its own project, with provenance made by the local Sigstore; each
// iteration finds (PEP 691 page), fetches and verifies all 100
// concurrently with a fresh Fetcher (no page cache), as an install would
// for 100 locked files. It reports ns per file and requests per file.
func BenchmarkProvenance100(b *testing.B) {
	l := newLocalIndex(b)
	type file struct {
		project, name, sha string
	}
	var files []file
	for i := 0; i < 100; i++ {
		p := pkgtest.Project{Name: fmt.Sprintf("bench-pkg-%d", i), Version: "1.0.0"}
		id := sigstoretest.GitHubActions("acme/"+p.Name, ".github/workflows/publish.yml", "refs/tags/v1.0.0", reqCommit)
		f, err := pkgtest.Signed(l.pg, id, sigstoretest.GitHubPublisher("acme/"+p.Name, "publish.yml"), p.Name, p.Version, p.WheelName(), p.Wheel())
		if err != nil {
			b.Fatal(err)
		}
		l.ix.Put(f)
		files = append(files, file{p.Name, p.WheelName(), sum(f.Data)})
	}
	ctx := context.Background()
	var requests int64
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		f, err := NewFetcher(l.ix.Client(), l.ix.SimpleURL())
		if err != nil {
			b.Fatal(err)
		}
		var wg sync.WaitGroup
		sem := make(chan struct{}, 8)
		errs := make(chan error, len(files))
		for _, fl := range files {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				got, err := f.Fetch(ctx, fl.project, "1.0.0", fl.name)
				if err == nil {
					_, err = l.v.VerifyProvenance(got.Provenance, Expected{Filename: fl.name, SHA256: fl.sha,
						Publisher: &Publisher{Kind: KindGitHub, Repository: "acme/" + fl.project, Workflow: "publish.yml"}})
				}
				if err != nil {
					errs <- err
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
		requests += f.Requests()
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(files)), "ns/file")
	b.ReportMetric(float64(requests)/float64(b.N*len(files)), "requests/file")
}

// BenchmarkVerifyReal verifies the real PyPI provenance of
// pypi_attestations 0.0.19 (parse, convert, verify) against the
// production root.
func BenchmarkVerifyReal(b *testing.B) {
	v := verifier(b, pgRoot)
	data := fixture(b, pa19+".provenance")
	b.ResetTimer()
	for n := 0; n < b.N; n++ {
		p, err := ParseProvenance(data)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := v.VerifyProvenance(p, Expected{Filename: pa19, SHA256: pa19sha, Publisher: gh("trailofbits/pypi-attestations", "release.yml")}); err != nil {
			b.Fatal(err)
		}
	}
}
