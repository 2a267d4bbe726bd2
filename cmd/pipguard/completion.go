package main

import (
	"fmt"

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
