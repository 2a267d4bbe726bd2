package pkgtest

import (
	"fmt"
	"math/rand/v2"
)

// P7Files are the files of one of P7's projects (docs/benchmarks.md): 60
// small modules and 39 data files of 15,000 pseudo-random bytes from rng,
// about 600 KB in a wheel.
func P7Files(rng *rand.Rand, name string) map[string]string {
	files := map[string]string{}
	for j := 0; j < 60; j++ {
		files[fmt.Sprintf("%s/mod%02d.py", name, j)] = fmt.Sprintf("# module %d of %s\nVALUE = %d\n\ndef f(x):\n    return x + %d\n", j, name, j, rng.IntN(1000))
	}
	for j := 0; j < 39; j++ {
		blob := make([]byte, 15000)
		for k := range blob {
			blob[k] = byte(rng.Uint32())
		}
		files[fmt.Sprintf("%s/data/blob%02d.bin", name, j)] = string(blob)
	}
	return files
}
