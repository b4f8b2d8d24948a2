# bash completion for skyutil(1)                                      -*- shell-script -*-

_skyutil_pids()
{
	local p
	for p in /proc/[0-9]*; do
		printf '%s\n' "${p#/proc/}"
	done
}

_skyutil()
{
	local cur prev words cword
	if declare -F _init_completion >/dev/null; then
		_init_completion || return
	else
		cur=${COMP_WORDS[COMP_CWORD]}
		prev=${COMP_WORDS[COMP_CWORD - 1]}
		words=("${COMP_WORDS[@]}")
		cword=$COMP_CWORD
	fi

	local commands='ping hello call metrics facts cpu-count mem watch-facts alive status
		wait children kill-tree guard unguard guards tail hash free-port parallel-threads'
	local global_opts='--socket --json --timeout --help --version'

	# The first non-option word (skipping the values of global options) is the command.
	local i cmd='' cmd_index=0
	for ((i = 1; i < cword; i++)); do
		case ${words[i]} in
		--socket | --timeout) ((i++)) ;;
		-*) ;;
		*)
			cmd=${words[i]}
			cmd_index=$i
			break
			;;
		esac
	done

	case $prev in
	--socket)
		COMPREPLY=($(compgen -f -- "$cur"))
		return
		;;
	--timeout | --grace | --count | --cpus | -n)
		return
		;;
	--signal)
		COMPREPLY=($(compgen -W 'TERM KILL INT HUP QUIT USR1 USR2' -- "$cur"))
		return
		;;
	--algo)
		COMPREPLY=($(compgen -W 'md5 sha1 sha256 sha512' -- "$cur"))
		return
		;;
	--cloud)
		COMPREPLY=($(compgen -W 'kubernetes aws gcp azure' -- "$cur"))
		return
		;;
	--pid | --watch | --kill)
		COMPREPLY=($(compgen -W "$(_skyutil_pids)" -- "$cur"))
		return
		;;
	esac

	if [[ -z $cmd ]]; then
		if [[ $cur == -* ]]; then
			COMPREPLY=($(compgen -W "$global_opts" -- "$cur"))
		else
			COMPREPLY=($(compgen -W "$commands" -- "$cur"))
		fi
		return
	fi

	local opts=''
	case $cmd in
	hello) opts='--json' ;;
	facts | cpu-count | mem) opts='--pid --json' ;;
	watch-facts) opts='--count --json' ;;
	status | guards) opts='--json' ;;
	children) opts='--recursive' ;;
	kill-tree) opts='--grace --signal --no-root' ;;
	guard) opts='--watch --kill --grace --signal' ;;
	tail) opts='-n' ;;
	hash) opts='--algo' ;;
	parallel-threads) opts='--cloud --cpus' ;;
	call)
		if ((cword == cmd_index + 1)); then
			COMPREPLY=($(compgen -W 'hello ping facts.get facts.subscribe
				facts.unsubscribe facts.parallel_threads
				facts.max_workers_for_file_mounts proc.status proc.watch proc.unwatch
				proc.children proc.kill_tree proc.guard proc.unguard proc.guards
				daemon.metrics' -- "$cur"))
		fi
		return
		;;
	esac

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W "$opts --help" -- "$cur"))
		return
	fi
	case $cmd in
	alive | status | wait | children | kill-tree)
		COMPREPLY=($(compgen -W "$(_skyutil_pids)" -- "$cur"))
		;;
	tail | hash)
		COMPREPLY=($(compgen -f -- "$cur"))
		;;
	esac
}
complete -F _skyutil skyutil
