package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// pathFlags are the flags whose value is a local path, completed as one.
var pathFlags = map[string]bool{"o": true, "key": true}

// compVerb is a verb as a completion script sees it.
type compVerb struct {
	names   []string
	summary string
	flags   []compFlag
	choices []string // the first argument's words
	paths   bool     // the other arguments are local paths
}

type compFlag struct {
	name, usage string
	value, path bool // takes a value; the value is a path
}

// arg is the flag as typed: -o, --wide.
func (f compFlag) arg() string {
	if len(f.name) == 1 {
		return "-" + f.name
	}
	return "--" + f.name
}

// compVerbs reads the verb table, plus "help", which run handles itself.
func compVerbs() []compVerb {
	var verbs []compVerb
	var names []string
	for _, c := range commands {
		v := compVerb{names: c.names, summary: firstSentence(c.summary), choices: c.choices, paths: c.paths}
		c.flagSet(&options{json: new(bool)}).VisitAll(func(f *flag.Flag) {
			b, isBool := f.Value.(interface{ IsBoolFlag() bool })
			v.flags = append(v.flags, compFlag{name: f.Name, usage: f.Usage, value: !isBool || !b.IsBoolFlag(), path: pathFlags[f.Name]})
		})
		verbs = append(verbs, v)
		names = append(names, c.names...)
	}
	return append(verbs, compVerb{names: []string{"help"}, summary: "Show the usage, or a command's flags.", choices: names})
}

// globalFlags come before the verb.
var globalFlags = []compFlag{
	{name: "json", usage: "print the registry's JSON answer"},
	{name: "help", usage: "show the usage"},
}

func runCompletion(_ context.Context, cl *cli, _ *options, args []string) error {
	verbs := compVerbs()
	switch args[0] {
	case "bash":
		bashCompletion(cl.stdout, verbs)
	case "zsh":
		zshCompletion(cl.stdout, verbs)
	case "fish":
		fishCompletion(cl.stdout, verbs)
	default:
		return usagef("completion takes bash, zsh or fish, not %q", args[0])
	}
	return nil
}

func allNames(verbs []compVerb) []string {
	var names []string
	for _, v := range verbs {
		names = append(names, v.names...)
	}
	return names
}

func flagArgs(flags []compFlag, keep func(compFlag) bool) []string {
	var out []string
	for _, f := range flags {
		if keep(f) {
			out = append(out, f.arg())
		}
	}
	return out
}

// bashCompletion writes a script for bash's programmable completion. It
// walks the words typed so far to find the verb and how many arguments
// came after it, skipping flag values (as -o FILE, --reason=R), so it
// offers flags, the first argument's words, and file names where a path
// goes.
func bashCompletion(w io.Writer, verbs []compVerb) {
	all := func(compFlag) bool { return true }
	var b strings.Builder
	b.WriteString(`# bash completion for securectl; made by "securectl completion bash".
# Load it with: source <(securectl completion bash)

# __securectl_verb sets what the verb $1 takes: its flags, the names of
# those that take a value (and of those whose value is a path), the words
# its first argument is one of, and whether its arguments are paths.
__securectl_verb() {
	flags= vflags= pflags= choices= paths=
	case $1 in
`)
	for _, v := range verbs {
		fmt.Fprintf(&b, "\t%s)\n\t\tflags='%s'\n", strings.Join(v.names, "|"), strings.Join(flagArgs(v.flags, all), " "))
		var vf, pf []string
		for _, f := range v.flags {
			if f.value {
				vf = append(vf, f.name)
			}
			if f.path {
				pf = append(pf, f.name)
			}
		}
		if len(vf) > 0 {
			fmt.Fprintf(&b, "\t\tvflags='%s'\n", strings.Join(vf, " "))
		}
		if len(pf) > 0 {
			fmt.Fprintf(&b, "\t\tpflags='%s'\n", strings.Join(pf, " "))
		}
		if len(v.choices) > 0 {
			fmt.Fprintf(&b, "\t\tchoices='%s'\n", strings.Join(v.choices, " "))
		}
		if v.paths {
			b.WriteString("\t\tpaths=1\n")
		}
		b.WriteString("\t\t;;\n")
	}
	fmt.Fprintf(&b, `	*) return 1 ;;
	esac
}

_securectl() {
	local cur=${COMP_WORDS[COMP_CWORD]} verb= npos=0 i w n dashdash= valueof=
	local flags vflags pflags choices paths
	COMPREPLY=()
	for ((i = 1; i < COMP_CWORD; i++)); do
		w=${COMP_WORDS[i]}
		if [[ -z $verb ]]; then
			[[ $w == -* ]] && continue
			verb=$w
			__securectl_verb "$verb" || return 0
			continue
		fi
		if [[ -n $dashdash || $w != -* ]]; then
			((npos++))
			continue
		fi
		[[ $w == -- ]] && dashdash=1 && continue
		n=${w#-}
		n=${n#-}
		# bash splits --flag=value at "=" into three words.
		if [[ ${COMP_WORDS[i+1]} == = ]]; then
			((i += 2))
			valueof=$n
		elif [[ " $vflags " == *" $n "* ]]; then
			((i++))
			valueof=$n
		fi
	done
	if [[ -z $verb ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W '%s' -- "$cur"))
		else
			COMPREPLY=($(compgen -W '%s' -- "$cur"))
		fi
		return 0
	fi
	if ((i > COMP_CWORD)); then
		# cur is a flag's value: file names for a path, nothing otherwise.
		[[ " $pflags " == *" $valueof "* ]] || compopt +o default 2>/dev/null
		return 0
	fi
	if [[ -z $dashdash && $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$flags" -- "$cur"))
	elif ((npos == 0)) && [[ -n $choices ]]; then
		COMPREPLY=($(compgen -W "$choices" -- "$cur"))
	elif [[ -z $paths ]]; then
		compopt +o default 2>/dev/null
	fi
	return 0
}

complete -o default -F _securectl securectl
`, strings.Join(flagArgs(globalFlags, all), " "), strings.Join(allNames(verbs), " "))
	io.WriteString(w, b.String())
}

// shQuote quotes s as one single-quoted bash or zsh word.
func shQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// zshEscape escapes what _arguments reads specially in a description.
func zshEscape(s string) string {
	return strings.NewReplacer(`\`, `\\`, "[", `\[`, "]", `\]`, ":", `\:`).Replace(s)
}

// zshFlagSpecs are the _arguments specs of flags: --name[usage] for a
// switch, --name=[usage]:name: for a value (--name V or --name=V).
func zshFlagSpecs(flags []compFlag) []string {
	var specs []string
	for _, f := range flags {
		usage := "[" + zshEscape(f.usage) + "]"
		spec := f.arg() + usage
		switch {
		case f.path:
			spec = f.arg() + "=" + usage + ":" + f.name + ":_files"
		case f.value:
			spec = f.arg() + "=" + usage + ":" + f.name + ": "
		}
		if f.name == "help" {
			spec = "(- *)" + spec
		}
		specs = append(specs, shQuote(spec))
	}
	return specs
}

// zshCompletion writes a script for zsh's completion system, both to put
// in $fpath as _securectl and to source.
func zshCompletion(w io.Writer, verbs []compVerb) {
	var b strings.Builder
	b.WriteString(`#compdef securectl
# zsh completion for securectl; made by "securectl completion zsh".
# Put it in a directory of $fpath as _securectl, or source it.

_securectl() {
	local curcontext=$curcontext state line ret=1
	typeset -A opt_args
	local -a verbs
	verbs=(
`)
	for _, v := range verbs {
		for _, n := range v.names {
			fmt.Fprintf(&b, "\t\t%s\n", shQuote(n+":"+v.summary))
		}
	}
	b.WriteString("\t)\n\t_arguments -C \\\n")
	for _, s := range zshFlagSpecs(globalFlags) {
		fmt.Fprintf(&b, "\t\t%s \\\n", s)
	}
	b.WriteString(`		'1: :->verb' \
		'*:: :->args' && ret=0
	case $state in
	verb)
		_describe -t commands 'securectl command' verbs && ret=0
		;;
	args)
		curcontext=${curcontext%:*:*}:securectl-$line[1]:
		case $line[1] in
`)
	for _, v := range verbs {
		specs := zshFlagSpecs(v.flags)
		if len(v.choices) > 0 {
			specs = append(specs, shQuote("1:"+v.names[0]+":("+strings.Join(v.choices, " ")+")"))
		}
		if v.paths {
			specs = append(specs, "'*:file:_files'")
		}
		if len(specs) == 0 {
			fmt.Fprintf(&b, "\t\t%s) ret=0 ;;\n", strings.Join(v.names, "|"))
			continue
		}
		fmt.Fprintf(&b, "\t\t%s)\n\t\t\t_arguments \\\n", strings.Join(v.names, "|"))
		for i, s := range specs {
			end := " \\\n"
			if i == len(specs)-1 {
				end = " && ret=0\n"
			}
			fmt.Fprintf(&b, "\t\t\t\t%s%s", s, end)
		}
		b.WriteString("\t\t\t;;\n")
	}
	b.WriteString(`		esac
		;;
	esac
	return ret
}

if [[ $funcstack[1] == _securectl ]]; then
	_securectl "$@"
else
	compdef _securectl securectl
fi
`)
	io.WriteString(w, b.String())
}

// fishQuote quotes s for a single-quoted fish word.
func fishQuote(s string) string {
	return "'" + strings.NewReplacer(`\`, `\\`, "'", `\'`).Replace(s) + "'"
}

// fishCompletion writes a script for fish's complete builtin.
func fishCompletion(w io.Writer, verbs []compVerb) {
	var b strings.Builder
	b.WriteString(`# fish completion for securectl; made by "securectl completion fish".
# Save it as ~/.config/fish/completions/securectl.fish

complete -c securectl -f
`)
	fishFlag := func(cond string, f compFlag) {
		opt := "-l " + f.name
		if len(f.name) == 1 {
			opt = "-s " + f.name
		}
		switch {
		case f.path:
			opt += " -r -F"
		case f.value:
			opt += " -x"
		}
		fmt.Fprintf(&b, "complete -c securectl -n %s %s -d %s\n", cond, opt, fishQuote(f.usage))
	}
	for _, f := range globalFlags {
		fishFlag("__fish_use_subcommand", f)
	}
	for _, v := range verbs {
		for _, n := range v.names {
			fmt.Fprintf(&b, "complete -c securectl -n __fish_use_subcommand -a %s -d %s\n", n, fishQuote(v.summary))
		}
	}
	for _, v := range verbs {
		cond := fishQuote("__fish_seen_subcommand_from " + strings.Join(v.names, " "))
		for _, f := range v.flags {
			fishFlag(cond, f)
		}
		if len(v.choices) > 0 {
			fmt.Fprintf(&b, "complete -c securectl -n %s -a %s\n", cond, fishQuote(strings.Join(v.choices, " ")))
		}
		if v.paths {
			fmt.Fprintf(&b, "complete -c securectl -n %s -F\n", cond)
		}
	}
	io.WriteString(w, b.String())
}
