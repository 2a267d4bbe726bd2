// Package bench is pipguard's benchmark harness: the figures published in
// docs/benchmarks.md, each measured against what users would run instead,
// with the real pipguard binary, real git, real pip and the local GitHub
// (internal/githubtest) on 127.0.0.1.
//
// It holds benchmarks only; go test ./... runs none of them. Run them with
//
//	make bench
//	go test -run '^$' -bench . -benchtime 1x -timeout 2h ./bench
//
// PIPGUARD_BENCH_RUNS overrides the number of runs of every figure and
// PIPGUARD_BENCH_BIN names a prebuilt pipguard binary to measure instead of
// building ./cmd/pipguard.
package bench
