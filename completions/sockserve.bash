# SPDX-License-Identifier: BSD-2-Clause
# bash completion for sockserve(1)
_sockserve() {
	local cur prev words cword
	_init_completion -s || return

	case $prev in
	-f | --family) COMPREPLY=($(compgen -W 'inet inet6 unix' -- "$cur")); return ;;
	-t | --type) COMPREPLY=($(compgen -W 'stream dgram seqpacket' -- "$cur")); return ;;
	-m | --mode) COMPREPLY=($(compgen -W 'sync fork thread' -- "$cur")); return ;;
	--stderr) COMPREPLY=($(compgen -W 'inherit socket null' -- "$cur")); return ;;
	--log-format) COMPREPLY=($(compgen -W 'text json' -- "$cur")); return ;;
	-u | --user) COMPREPLY=($(compgen -u -- "$cur")); return ;;
	-g | --group) COMPREPLY=($(compgen -g -- "$cur")); return ;;
	--pidfile) _filedir; return ;;
	--socket-mode) COMPREPLY=($(compgen -W '600 660 666 700 770 777' -- "$cur")); return ;;
	--allow | --deny) return ;;
	-c | --max-children | --max-per-ip | -b | --backlog | --grace | --max-packet | -T | --timeout | --idle-timeout | -n | --max-requests) return ;;
	esac
	$split && return

	# Options end at ADDRESS; after it comes COMMAND and its arguments.
	local i arg_count=0 takes_value='@(-f|--family|-t|--type|-m|--mode|-c|--max-children|--max-per-ip|-b|--backlog|--grace|--max-packet|-T|--timeout|--idle-timeout|-n|--max-requests|--stderr|--log-format|--allow|--deny|-u|--user|-g|--group|--socket-mode|--pidfile)'
	for ((i = 1; i < cword; i++)); do
		if [[ ${words[i]} == $takes_value ]]; then
			((i++))
		elif [[ ${words[i]} != -* || ${words[i]} == -- ]]; then
			[[ ${words[i]} == -- && $arg_count -eq 0 ]] && continue
			((arg_count++))
			if ((arg_count == 1)); then
				# words after ADDRESS: complete a command, then its own arguments
				local j=$((i + 1))
				[[ ${words[j]} == -- ]] && ((j++))
				_command_offset "$j"
				return
			fi
		fi
	done

	if [[ $cur == -* ]]; then
		COMPREPLY=($(compgen -W '--family -4 -6 -U --type --backlog --no-reuse-addr
			--reuse-port --v6only --nodelay --print-address --max-packet --empty-reply
			--mode --max-children --max-per-ip --timeout --idle-timeout --max-requests --once
			--wait --grace --shell --stderr --no-env --allow --deny --user --group --socket-mode
			--pidfile --verbose --quiet --log-format
			--version --help --usage' -- "$cur"))
		[[ ${COMPREPLY-} == *= ]] && compopt -o nospace
		return
	fi
	# ADDRESS: a port, HOST:PORT, a unix socket path, or a socket handed in
	if [[ $cur == f* || $cur == s* ]]; then
		COMPREPLY=($(compgen -W 'fd:0 fd:3 systemd systemd:' -- "$cur"))
		[[ ${COMPREPLY-} == *: ]] && compopt -o nospace
		[[ ${#COMPREPLY[@]} -gt 0 ]] && return
	fi
	_filedir
}
complete -F _sockserve sockserve
