package pylock

import "fmt"

// cpythonEnv is a marker environment and a sys_tags-like tag list for a
// CPython of the given version on one platform.
func cpythonEnv(full string, minor int, osName, sysPlatform, system, machine string, platforms []string) Environment {
	env := Environment{Markers: map[string]string{
		"implementation_name":            "cpython",
		"implementation_version":         full,
		"os_name":                        osName,
		"platform_machine":               machine,
		"platform_release":               "6.1.0",
		"platform_system":                system,
		"platform_version":               "#1 SMP",
		"python_full_version":            full,
		"platform_python_implementation": "CPython",
		"python_version":                 fmt.Sprintf("3.%d", minor),
		"sys_platform":                   sysPlatform,
	}}
	cp := fmt.Sprintf("cp3%d", minor)
	for _, abi := range []string{cp, "abi3", "none"} {
		for _, p := range platforms {
			env.Tags = append(env.Tags, cp+"-"+abi+"-"+p)
		}
	}
	for m := minor; m >= 0; m-- {
		for _, p := range platforms {
			env.Tags = append(env.Tags, fmt.Sprintf("py3%d-none-%s", m, p))
		}
		if m == minor {
			for _, p := range platforms {
				env.Tags = append(env.Tags, "py3-none-"+p)
			}
		}
	}
	env.Tags = append(env.Tags, cp+"-none-any", fmt.Sprintf("py3%d-none-any", minor), "py3-none-any")
	for m := minor - 1; m >= 0; m-- {
		env.Tags = append(env.Tags, fmt.Sprintf("py3%d-none-any", m))
	}
	return env
}

var testEnvs = map[string]Environment{
	"linux-cp312":  cpythonEnv("3.12.3", 12, "posix", "linux", "Linux", "x86_64", []string{"manylinux_2_17_x86_64", "manylinux2014_x86_64", "linux_x86_64"}),
	"win-cp312":    cpythonEnv("3.12.1", 12, "nt", "win32", "Windows", "AMD64", []string{"win_amd64"}),
	"linux-cp311":  cpythonEnv("3.11.7", 11, "posix", "linux", "Linux", "x86_64", []string{"manylinux_2_17_x86_64", "linux_x86_64"}),
	"mac-cp313":    cpythonEnv("3.13.0", 13, "posix", "darwin", "Darwin", "arm64", []string{"macosx_14_0_arm64", "macosx_11_0_arm64"}),
	"linux-cp35":   cpythonEnv("3.5.10", 5, "posix", "linux", "Linux", "x86_64", []string{"linux_x86_64"}),
	"win-cp313rc1": cpythonEnv("3.13.0rc1", 13, "nt", "win32", "Windows", "AMD64", []string{"win_amd64"}),
}
