#!/usr/bin/env bats
# SPDX-License-Identifier: BSD-2-Clause
# The completions for bash, zsh and fish: generated from --help's option
# table (cli/completions.py), and each tried in its real shell.

load test_helper/common

@test "the completions are generated from --help and up to date (make completions)" {
	mkdir gen
	python3 "$TOP/cli/completions.py" "$SOCKSERVE" gen
	local f
	for f in sockserve.bash _sockserve sockserve.fish; do
		diff -u "$TOP/completions/$f" "gen/$f"
	done
}

# bash_complete LINE: the candidates bash-completion gives for LINE.
bash_complete() {
	bash -c 'source /usr/share/bash-completion/bash_completion
		source "$1/completions/sockserve.bash"
		COMP_LINE=$2; COMP_POINT=${#COMP_LINE}
		read -ra COMP_WORDS <<<"$COMP_LINE"
		[[ $COMP_LINE == *" " ]] && COMP_WORDS+=("")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_sockserve sockserve
		printf "%s\n" "${COMPREPLY[@]}"' bash "$TOP" "$1"
}

@test "bash: options, their values, socket forms, then COMMAND" {
	[ -f /usr/share/bash-completion/bash_completion ] || skip "no bash-completion"
	run bash_complete "sockserve --mo"
	assert_output "--mode"
	run bash_complete "sockserve -m "
	assert_output $'sync\nfork\nthread'
	run bash_complete "sockserve --stderr "
	assert_output $'inherit\nsocket\nnull'
	run bash_complete "sockserve sys"
	assert_output $'systemd\nsystemd:'
	run bash_complete "sockserve -t dgram 127.0.0.1:0 ech"
	assert_line "echo"
}

@test "fish: options, their values, socket forms, then COMMAND" {
	command -v fish >/dev/null || skip "no fish"
	run fish -c "source $TOP/completions/sockserve.fish; complete -C 'sockserve --mo'"
	assert_output --regexp $'^--mode\t'
	run fish -c "source $TOP/completions/sockserve.fish; complete -C 'sockserve -m '"
	assert_line --regexp $'^fork\t'
	assert_line --regexp $'^thread\t'
	run fish -c "source $TOP/completions/sockserve.fish; complete -C 'sockserve sys'"
	assert_line --regexp $'^systemd:\t'
	run fish -c "source $TOP/completions/sockserve.fish; complete -C 'sockserve 127.0.0.1:0 ech'"
	assert_line --regexp $'^echo\t'
}

# In zsh, completion runs in an interactive shell: tmux gives it a terminal.
zsh_screen() {
	tmux -L "$ZSH_TMUX" capture-pane -t z -p
}

screen_has() {
	zsh_screen | grep -qE -- "$1"
}

@test "zsh: options and their values, in an interactive zsh under tmux" {
	command -v zsh >/dev/null && command -v tmux >/dev/null || skip "no zsh or tmux"
	ZSH_TMUX=sockserve-test-$$
	tmux -L "$ZSH_TMUX" new-session -d -s z -x 160 -y 30 \
		"env -i HOME=$BATS_TEST_TMPDIR TERM=xterm PATH=$PATH zsh -f" 3>&-
	# tmux is killed by its socket name in teardown
	STARTED_PIDS+=($(tmux -L "$ZSH_TMUX" display -p '#{pid}'))
	tmux -L "$ZSH_TMUX" send-keys -t z "fpath=($TOP/completions \$fpath); autoload -U compinit; compinit -u -D; PS1='ready%% '" Enter
	wait_until 10 screen_has '^ready% *$'
	tmux -L "$ZSH_TMUX" send-keys -t z "sockserve --mo" Tab
	wait_until 10 screen_has '^ready% sockserve --mode='
	tmux -L "$ZSH_TMUX" send-keys -t z C-u "sockserve -m " Tab
	wait_until 10 screen_has '^fork +sync +thread'
	tmux -L "$ZSH_TMUX" send-keys -t z C-u "sockserve --log-format " Tab
	wait_until 10 screen_has '^json +text'
	tmux -L "$ZSH_TMUX" kill-server
}
