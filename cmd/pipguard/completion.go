package main

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/urfave/cli/v2"
)

// Shell completion: bash and zsh ask pipguard itself what comes next
// (urfave/cli's --generate-bash-completion, from the same command and flag
// definitions as --help); fish gets its complete rules generated from them.
// The words typed are passed as arguments, never evaluated by the shell.
const bashCompletion = `# bash completion for pipguard
# load with: source <(pipguard completion bash)
_pipguard() {
	local cur=${COMP_WORDS[COMP_CWORD]}
	local -a args=("${COMP_WORDS[@]:1:COMP_CWORD-1}")
	if [[ $cur == -* ]]; then
		args+=("$cur")
	fi
	local IFS=$'\n'
	COMPREPLY=($(compgen -W "$("${COMP_WORDS[0]}" "${args[@]}" --generate-bash-completion 2>/dev/null)" -- "$cur"))
}
complete -o default -F _pipguard pipguard
`

const zshCompletion = `#compdef pipguard
# zsh completion for pipguard
# load with: source <(pipguard completion zsh)   (after compinit)
_pipguard() {
	local -a opts args
	args=("${(@)words[2,CURRENT-1]}")
	if [[ ${words[CURRENT]} == -* ]]; then
		args+=("${words[CURRENT]}")
	fi
	opts=("${(@f)$(0=zsh ${words[1]} "${(@)args}" --generate-bash-completion 2>/dev/null)}")
	if [[ -n ${opts[1]} ]]; then
		_describe 'pipguard' opts
	else
		_files
	fi
}
compdef _pipguard pipguard
`

func completionCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:      "completion",
		Usage:     "print a shell completion script (bash, zsh or fish)",
		ArgsUsage: "SHELL",
		Description: `Prints the completion script for SHELL on stdout.

   bash:  source <(pipguard completion bash)      (or save it in ~/.local/share/bash-completion/completions/pipguard)
   zsh:   source <(pipguard completion zsh)       (after compinit)
   fish:  pipguard completion fish > ~/.config/fish/completions/pipguard.fish`,
		Action: func(cCtx *cli.Context) error {
			if cCtx.NArg() != 1 {
				return usagef("completion needs one shell: bash, zsh or fish")
			}
			switch sh := cCtx.Args().First(); sh {
			case "bash":
				fmt.Fprint(e.stdout, bashCompletion)
			case "zsh":
				fmt.Fprint(e.stdout, zshCompletion)
			case "fish":
				script, err := cCtx.App.ToFishCompletion()
				if err != nil {
					return err
				}
				fmt.Fprint(e.stdout, script)
			default:
				return usagef("no completion for %q: pipguard completes bash, zsh and fish", sh)
			}
			return nil
		},
	}
}

// manCommand prints pipguard's man page, generated from the same command
// definitions as --help (docs/pipguard.1 is its output, kept in step by a
// test).
func manCommand(e *env) *cli.Command {
	return &cli.Command{
		Name:   "man",
		Usage:  "print pipguard's man page (roff)",
		Hidden: true,
		Action: func(cCtx *cli.Context) error {
			page, err := cCtx.App.ToManWithSection(1)
			if err != nil {
				return err
			}
			fmt.Fprint(e.stdout, page)
			return nil
		},
	}
}

// completionFlag ends the words a completion script passes (bash and zsh
// above, urfave/cli's protocol).
const completionFlag = "--generate-bash-completion"

// flagValues are the values a flag takes, completed after it; a command
// named here takes its own list (sarif only for audit and check).
var flagValues = map[string]func(command string) []string{
	"format": func(command string) []string {
		if command == "audit" || command == "check" {
			return []string{"text", "json", "sarif"}
		}
		return []string{"text", "json"}
	},
	"fail-on": func(command string) []string {
		if command == "check" {
			return []string{"warning", "error"}
		}
		return []string{"info", "warning", "error"}
	},
	"from": func(string) []string { return []string{"release", "git"} },
}

// commandArgs are the values of a command's first argument.
var commandArgs = map[string][]string{
	"completion": {"bash", "zsh", "fish"},
}

// complete prints what may come after words (the words typed so far, the
// current one last when it starts with "-"), one per line, and nothing
// else: it only reads the command definitions and never runs a command,
// whatever the words say. After "--" everything is pip's or a file, so it
// prints nothing and the shell completes file names.
func complete(app *cli.App, words []string, zsh bool, w io.Writer) {
	var cmd *cli.Command
	help, args := false, 0
	for _, a := range words {
		switch {
		case a == "--":
			return
		case strings.HasPrefix(a, "-"):
		case cmd == nil && !help && (a == "help" || a == "h"):
			help = true
		case cmd == nil && !help:
			if cmd = app.Command(a); cmd == nil {
				return // not a command: nothing to offer
			}
		default:
			args++
		}
	}
	last := ""
	if len(words) > 0 {
		last = words[len(words)-1]
	}
	if cmd == nil {
		switch {
		case help && args > 0, help && strings.HasPrefix(last, "-"):
		case strings.HasPrefix(last, "-"):
			printFlags(last, []cli.Flag{cli.HelpFlag, cli.VersionFlag}, nil, w)
		default:
			for _, c := range app.Commands {
				if c.Hidden {
					continue
				}
				if zsh {
					fmt.Fprintf(w, "%s:%s\n", c.Name, c.Usage)
				} else {
					fmt.Fprintln(w, c.Name)
				}
			}
			if !help {
				fmt.Fprintln(w, "help")
			}
		}
		return
	}
	if f := flagNamed(cmd, strings.TrimLeft(last, "-")); strings.HasPrefix(last, "-") && f != nil && takesValue(f) {
		// The value after the flag ("--format <TAB>"); for a flag still
		// being typed ("--format<TAB>") the shell's filter drops them.
		// A flag with no list of values takes a file or a name.
		if values := flagValues[f.Names()[0]]; values != nil {
			for _, v := range values(cmd.Name) {
				fmt.Fprintln(w, v)
			}
		}
		return
	}
	if strings.HasPrefix(last, "-") {
		printFlags(last, append(append([]cli.Flag{}, cmd.Flags...), cli.HelpFlag), words[:len(words)-1], w)
		return
	}
	if values := commandArgs[cmd.Name]; values != nil && args == 0 {
		for _, v := range values {
			fmt.Fprintln(w, v)
		}
	}
	// Anything else is a requirement or a file: the shell completes files.
}

func flagNamed(cmd *cli.Command, name string) cli.Flag {
	for _, f := range cmd.Flags {
		if slices.Contains(f.Names(), name) {
			return f
		}
	}
	return nil
}

func takesValue(f cli.Flag) bool {
	_, isBool := f.(*cli.BoolFlag)
	return !isBool
}

// printFlags prints the flags whose names start with what prefix names
// (short names only for a single "-"), leaving out those given already.
func printFlags(prefix string, flags []cli.Flag, given []string, w io.Writer) {
	long := strings.HasPrefix(prefix, "--")
	cur := strings.TrimLeft(prefix, "-")
	for _, f := range flags {
		if vf, ok := f.(cli.VisibleFlag); ok && !vf.IsVisible() {
			continue
		}
		names := f.Names()
		already := false
		for _, n := range names {
			if slices.Contains(given, "--"+n) || slices.Contains(given, "-"+n) {
				already = true
			}
		}
		if _, repeatable := f.(*cli.StringSliceFlag); already && !repeatable {
			continue
		}
		for _, n := range names {
			dashes := "--"
			if len(n) == 1 {
				if long {
					continue
				}
				dashes = "-"
			}
			if strings.HasPrefix(n, cur) {
				fmt.Fprintln(w, dashes+n)
			}
		}
	}
}
