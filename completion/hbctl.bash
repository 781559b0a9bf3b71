# bash completion for hbctl and hbwatch (hbwatch's package).
# Commands and options; service names from the sections of the files
# 'hbwatch --check-config' says it reads (or the -c file's); pids from
# 'hbctl status --json' at the -k key given on the line.

# The watched services: [section] names other than [hbwatch] in the files
# the configuration is made of.
_hbwatch_services()
{
	local files f cfg=${1-}
	files=$(hbwatch ${cfg:+-c "$cfg"} --check-config 2>/dev/null |
		sed -n 's/^\(read\|  then\) \(.*\)$/\2/p' | grep -v ' (masked')
	for f in $files; do
		[ -r "$f" ] && sed -n 's/^[[:space:]]*\[[[:space:]]*\([^]]*[^][:space:]]\)[[:space:]]*\].*/\1/p' "$f"
	done | grep -vx hbwatch | sort -u
}

# The pids hbctl status lists.
_hbctl_pids()
{
	hbctl ${1:+-k "$1"} status --json 2>/dev/null |
		grep -o '"pid":[0-9]*' | sed 's/"pid"://' | sort -un
}

_hbctl()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}") cword=$COMP_CWORD
	fi
	local commands="status remove register beat unregister check metrics"
	local i cmd= key=
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		-k | --key) key=${words[i + 1]}; i=$((i + 1)) ;;
		--key=*) key=${words[i]#--key=} ;;
		-*) ;;
		*) cmd=${words[i]}; break ;;
		esac
	done
	case $prev in
	-k | --key | --timeout | --wait) return ;;
	--pid) COMPREPLY=($(compgen -W "$(_hbctl_pids "$key")" -- "$cur")); return ;;
	--name) COMPREPLY=($(compgen -W "$(_hbwatch_services)" -- "$cur")); return ;;
	--counters) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	if [ -z "$cmd" ]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "-k --key -h --help --version" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi
	local opts=
	case $cmd in
	status) opts="--json" ;;
	remove) opts="--force" ;;
	register) opts="--name --timeout --pid --wait" ;;
	beat | unregister) opts="--pid" ;;
	metrics) opts="--counters" ;;
	check)
		if [ "$i" -eq $((cword - 1)) ]; then
			COMPREPLY=($(compgen -W "$(_hbwatch_services)" -- "$cur"))
		fi
		return
		;;
	esac
	COMPREPLY=($(compgen -W "$opts" -- "$cur"))
}
complete -F _hbctl hbctl

_hbwatch()
{
	local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD - 1]}
	case $prev in
	-c | --config) COMPREPLY=($(compgen -f -- "$cur")); return ;;
	esac
	COMPREPLY=($(compgen -W "-c --config --check-config -h --help --version" -- "$cur"))
}
complete -F _hbwatch hbwatch
