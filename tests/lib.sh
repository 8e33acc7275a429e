# shellcheck shell=bash
# tests/lib.sh — shared by the shell tests; source it, it only defines
# functions:
#	. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"

# write_config FILE [SETTING=VALUE]...
#
# Write an execrpc config (docs/design.md section 7) to FILE with only the
# keys named; the others keep their defaults. Values are written as given,
# unquoted, so a test can write an invalid one on purpose. SETTINGs:
#	transport=T		runtime.platform.execution_ipc.transport
#	mode=M			runtime.platform.bootstrap.mode
#	ready_timeout_seconds=S	runtime.platform.lifecycle.ready_timeout_seconds
#	graceful_timeout_seconds=S
#				runtime.platform.lifecycle.graceful_timeout_seconds
#	socket=PATH		runtime.platform.control.socket
#	group=NAME:WORKERS:SERVICES[:RESTART]
#				one runtime.platform.process_groups item, in
#				argument order; SERVICES comma-separated; an
#				empty WORKERS or RESTART is left out
#	apps.NAME.KEY=VALUE	apps.NAME.KEY (give one NAME's keys together)
# An unknown SETTING is a bug in the test: it says so on stderr and exits
# the test with status 1 (nothing written).
write_config() {
	local file=$1 a k v name='' last='' transport='' mode='' ready=''
	local graceful='' socket=''
	local -a groups=() apps=()
	local g_name g_workers g_services g_restart

	shift
	for a in "$@"; do
		k=${a%%=*}
		v=${a#*=}
		case $k in
		transport) transport=$v ;;
		mode) mode=$v ;;
		ready_timeout_seconds) ready=$v ;;
		graceful_timeout_seconds) graceful=$v ;;
		socket) socket=$v ;;
		group) groups+=("$v") ;;
		apps.*.*) apps+=("${a#apps.}") ;;
		*)
			echo "write_config: unknown setting \"$a\"" >&2
			exit 1
			;;
		esac
	done
	{
		if [ -n "$transport$mode$ready$graceful$socket" ] ||
		    [ ${#groups[@]} -gt 0 ]; then
			printf 'runtime:\n  platform:\n'
		fi
		if [ -n "$transport" ]; then
			printf '    execution_ipc:\n      transport: %s\n' \
			    "$transport"
		fi
		if [ -n "$mode" ]; then
			printf '    bootstrap:\n      mode: %s\n' "$mode"
		fi
		if [ -n "$ready$graceful" ]; then
			printf '    lifecycle:\n'
			[ -z "$ready" ] ||
			    printf '      ready_timeout_seconds: %s\n' "$ready"
			[ -z "$graceful" ] ||
			    printf '      graceful_timeout_seconds: %s\n' \
			    "$graceful"
		fi
		if [ -n "$socket" ]; then
			printf '    control:\n      socket: %s\n' "$socket"
		fi
		if [ ${#groups[@]} -gt 0 ]; then
			printf '    process_groups:\n'
		fi
		for a in "${groups[@]}"; do
			IFS=: read -r g_name g_workers g_services g_restart \
			    <<<"$a"
			printf '      - name: %s\n' "$g_name"
			[ -z "$g_workers" ] ||
			    printf '        workers: %s\n' "$g_workers"
			[ -z "$g_restart" ] ||
			    printf '        restart: %s\n' "$g_restart"
			printf '        services: [%s]\n' "${g_services//,/, }"
		done
		if [ ${#apps[@]} -gt 0 ]; then
			printf 'apps:\n'
		fi
		for a in "${apps[@]}"; do
			name=${a%%.*}
			a=${a#*.}
			if [ "$name" != "$last" ]; then
				printf '  %s:\n' "$name"
				last=$name
			fi
			printf '    %s: %s\n' "${a%%=*}" "${a#*=}"
		done
	} >"$file"
}
