# The test command from the README; .ci/run runs exactly this.
FUZZTIME ?= 5000x

.PHONY: test build fuzz bench demo
# Everything the tests write outside their t.TempDir (built binaries,
# venv templates, servers' repositories) goes to a directory of this run's
# own, removed when it ends, failed or not.
test:
	@tmp=$$(mktemp -d "$${TMPDIR:-/tmp}/pipguard-make-test.XXXXXX") && \
	trap 'chmod -R u+w "$$tmp" 2>/dev/null; rm -rf "$$tmp"' EXIT && \
	export TMPDIR="$$tmp" && \
	go test -count=1 -timeout 30m ./... && \
	$(MAKE) fuzz

build:
	go build -o bin/pipguard ./cmd/pipguard

# pipguard's main job, offline (the README's first command).
demo:
	go run ./cmd/pipguard-demo

# Short fuzz runs of every parser of untrusted input (seed corpus plus
# FUZZTIME new inputs each). Longer: make fuzz FUZZTIME=5m
fuzz:
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./installer/requirement
	PIPGUARD_PARITY_SCALE=10 go test -count=1 -run '^TestParityWithPip$$' ./installer/reqfile
	go test -run '^$$' -fuzz '^FuzzParseBundles$$' -fuzztime $(FUZZTIME) ./installer/attest
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./installer/sums
	go test -run '^$$' -fuzz '^FuzzParseAttestationsPage$$' -fuzztime $(FUZZTIME) ./installer/github
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./pep610
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./policy
	go test -run '^$$' -fuzz '^FuzzCanonical$$' -fuzztime $(FUZZTIME) ./internal/pep440
	PIPGUARD_PARITY_SCALE=10 go test -count=1 -run '^TestCanonicalAgainstPackaging$$' ./internal/pep440
	PIPGUARD_PARITY_SCALE=10 go test -count=1 -run '^TestChooseAgainstPip$$' ./installer/wheel

# Benchmarks, published in docs/benchmarks.md with the machine they ran on.
# bench/ is issue 11's harness (P1, P3, P4, P6, startup): the real binary,
# real git and pip, the local GitHub on 127.0.0.1; about 12 minutes on 2
# cores. It needs GNU time (peak RSS), curl and openssl (P4's baselines), and
# Debian's python3-wheel-whl (P1: setuptools builds wheels with it).
# PIPGUARD_BENCH_RUNS=N changes every figure's number of runs (at least 5).
bench:
	go test -run '^$$' -bench . -benchtime 1x -timeout 2h ./bench
	go test -run '^$$' -bench 'InstallVsBarePip|TwentyRequirements' -benchtime 1x ./installer
	go test -run '^$$' -bench . -benchtime 10x ./installer/gitref ./installer/attest
	go test -run '^$$' -bench Audit -benchtime 5x ./installer/envaudit

# pipguard's own release, as .github/workflows/release.yml publishes it:
# dist/pipguard_{linux,darwin}_{amd64,arm64} (static, -trimpath, stamped with
# the tag on HEAD or a pseudo-version), one SPDX 2.3 SBOM per binary
# (dist/pipguard_OS_ARCH.spdx.json) and dist/SHA256SUMS. SOURCE_DATE_EPOCH
# (default: the commit's time) dates the SBOMs.
.PHONY: release reproducible
release:
	go run ./internal/tools/release -out dist

# Two builds of the same commit, from two paths, are byte-identical (also
# part of make test).
reproducible:
	go test -count=1 -run '^TestReproducible$$' -v ./internal/tools/release
