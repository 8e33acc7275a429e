#!/usr/bin/env bash
# cli/secret_file: `config check` runs the start's secret_file check
# (issue 11, defects 6 and 7). `execrpc config check`, `execrpc-server
# config check` (xr_main) and an execrpc-server start give the same exit
# status and the same message for: modes 0644, 0640 and 0604, a symlink, a
# file owned by another uid (as root only: chown needs it); a 0600 file
# owned by the effective uid or by root passes. No message holds secret
# bytes. Defect 9: a config that holds an inline secret is refused the
# same way (secret_invalid, status 2) when it is mode 0644, 0640 or 0604,
# or a symlink, by both config checks, `execrpc config summary` and a
# start; mode 0600 passes.
# Usage: test_cli_secret_file.sh PATH/TO/execrpc PATH/TO/execrpc-server
set -u
cli=${1:?usage: test_cli_secret_file.sh EXECRPC EXECRPC-SERVER}
srv=${2:?usage: test_cli_secret_file.sh EXECRPC EXECRPC-SERVER}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
chmod 0700 "$tmp"
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

secret=0123456789abcdef0123456789abcdef-canary-K7
key=runtime.platform.execution_ipc.auth.secret_file

# config_auth FILE AUTH: an inline tcp_local endpoint whose auth map holds
# AUTH besides secret_mode: static
config_auth() {
	cat >"$1" <<YAML
runtime:
  platform:
    execution_ipc:
      transport: tcp_local
      bind_host: 127.0.0.1
      bind_port: 0
      auth: {secret_mode: static, $2}
    bootstrap: {mode: inline}
YAML
}
# config FILE SECRET_PATH: with that secret_file
config() { config_auth "$1" "secret_file: $2"; }

# good SECRET_PATH WHAT: all three accept (the server: it listens; then
# SIGTERM)
good() {
	local p=$1 what=$2 rc out err

	config "$tmp/c.yaml" "$p"
	for b in "$cli" "$srv"; do
		out=$("$b" config check "$tmp/c.yaml" 2>"$tmp/err")
		rc=$?
		err=$(cat "$tmp/err")
		[ "$rc" = 0 ] && [ "$out" = ok ] && [ -z "$err" ] && ok ||
			bad "$what: $(basename "$b") config check: rc=$rc out=$out err=$err"
	done
}

# expect_refused CONFIG WHAT KEY REASON CMD...: each "PROG config CMD
# CONFIG" (CMD check: execrpc and execrpc-server; summary: execrpc) and a
# start refuse with status 2 (secret_invalid) and the exact line "PROG:
# secret_invalid (code -22): KEY: REASON"; the start before it listens
expect_refused() {
	local c=$1 what=$2 k=$3 reason=$4 rc out err b name cmd
	local -a bins

	shift 4
	for cmd in "$@"; do
		bins=("$cli")
		[ "$cmd" = check ] && bins+=("$srv")
		for b in "${bins[@]}"; do
			name=$(basename "$b")
			out=$("$b" config "$cmd" "$c" 2>"$tmp/err")
			rc=$?
			err=$(cat "$tmp/err")
			[ "$rc" = 2 ] && [ -z "$out" ] &&
				[ "$err" = "$name: secret_invalid (code -22): $k: $reason" ] &&
				ok || bad "$what: $name config $cmd: rc=$rc out=$out err=$err"
			case $err in *"${secret:0:8}"*) bad "$what: $name: secret in stderr" ;; esac
		done
	done
	out=$(timeout 10 "$srv" --config "$c" 2>"$tmp/err")
	rc=$?
	err=$(head -n 1 "$tmp/err")
	[ "$rc" = 2 ] && [ -z "$out" ] &&
		[ "$err" = "execrpc-server: secret_invalid (code -22): $k: $reason" ] &&
		ok || bad "$what: execrpc-server start: rc=$rc out=$out err=$(cat "$tmp/err")"
	case $(cat "$tmp/err") in *"${secret:0:8}"*) bad "$what: start: secret in stderr" ;; esac
}

# refused SECRET_PATH WHAT REASON: a config naming that secret_file is
# refused by both config checks and a start
refused() {
	config "$tmp/c.yaml" "$1"
	expect_refused "$tmp/c.yaml" "$2" "$key" "$3" check
}

printf '%s\n' "$secret" >"$tmp/secret"
chmod 0600 "$tmp/secret"
good "$tmp/secret" "0600 owned by euid"

# defect 6: modes the start refuses, config check too
for m in 0644 0640 0604; do
	chmod "$m" "$tmp/secret"
	refused "$tmp/secret" "mode $m" \
	    "secret_file $tmp/secret: mode ${m#0} is accessible by group or other (must be 0600 or stricter)"
done
chmod 0600 "$tmp/secret"
ln -s "$tmp/secret" "$tmp/link"
refused "$tmp/link" "symlink" \
    "secret_file $tmp/link: is a symbolic link (not followed; name the file itself)"

# defect 7: the owner
euid=$(id -u)
if [ "$euid" = 0 ]; then
	chown 65534 "$tmp/secret"
	refused "$tmp/secret" "owned by uid 65534" \
	    "secret_file $tmp/secret: owned by uid 65534 (must be owned by this process's uid 0 or by root)"
	chown 0 "$tmp/secret"
	good "$tmp/secret" "0600 owned by root"
else
	echo "NOTE: not root: the foreign-owner case (chown to another uid) needs root and was not run" >&2
fi

# defect 9: the config file that holds an inline secret
ikey=runtime.platform.execution_ipc.auth.secret

# config_inline FILE: with the inline secret
config_inline() { config_auth "$1" "secret: \"$secret\""; }

# inline_refused CONFIG WHAT REASON: both config checks, the summary and a
# start refuse it
inline_refused() {
	expect_refused "$1" "$2" "$ikey" "$3" check summary
}

config_inline "$tmp/i.yaml"
for m in 0644 0640 0604; do
	chmod "$m" "$tmp/i.yaml"
	inline_refused "$tmp/i.yaml" "inline, config mode $m" \
	    "an inline secret needs a private config file: config file $tmp/i.yaml: mode ${m#0} is accessible by group or other (must be 0600 or stricter)"
done
chmod 0600 "$tmp/i.yaml"
ln -s "$tmp/i.yaml" "$tmp/ilink.yaml"
inline_refused "$tmp/ilink.yaml" "inline, config symlink" \
    "an inline secret needs a private config file: config file $tmp/ilink.yaml: is a symbolic link (not followed; name the file itself)"
for b in "$cli" "$srv"; do
	out=$("$b" config check "$tmp/i.yaml" 2>"$tmp/err")
	rc=$?
	[ "$rc" = 0 ] && [ "$out" = ok ] && [ ! -s "$tmp/err" ] && ok ||
		bad "inline, config mode 0600: $(basename "$b") config check: rc=$rc out=$out err=$(cat "$tmp/err")"
done

echo "cli/secret_file: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
