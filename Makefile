# The test command from the README; .ci/run runs exactly this.
FUZZTIME ?= 5000x

.PHONY: test build fuzz
test:
	go test -count=1 ./...
	$(MAKE) fuzz

build:
	go build -o bin/pipguard ./cmd/pipguard

# Short fuzz runs of every parser of untrusted input (seed corpus plus
# FUZZTIME new inputs each). Longer: make fuzz FUZZTIME=5m
fuzz:
	go test -run '^$$' -fuzz '^FuzzParse$$' -fuzztime $(FUZZTIME) ./installer/requirement
