# The test command from the README; .ci/run runs exactly this.
FUZZTIME ?= 5000x

.PHONY: test build fuzz bench demo
test:
	go test -count=1 ./...
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
	go test -run '^$$' -fuzz '^FuzzParseBundles$$' -fuzztime $(FUZZTIME) ./installer/attest
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./installer/sums
	go test -run '^$$' -fuzz '^FuzzParseAttestationsPage$$' -fuzztime $(FUZZTIME) ./installer/github
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./pep610
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./policy

# Benchmarks named in the issues; figures are reported in the README.
bench:
	go test -run '^$$' -bench . -benchtime 10x ./installer/gitref ./installer/attest
	go test -run '^$$' -bench InstallVsBarePip -benchtime 1x ./installer
	PIPGUARD_BENCH_CLI=1 go test -run '^$$' -bench Audit -benchtime 5x ./installer/envaudit
	head -c 1073741824 /dev/zero > /tmp/pipguard-bench.bin && time sha256sum /tmp/pipguard-bench.bin; rm -f /tmp/pipguard-bench.bin
