#!/usr/bin/env bash
# cli/config: `execrpc config check` and `execrpc config summary`
# (BOOT-CFG-01 and IPC-INT-03 through the CLI; exit statuses of docs/design.md
# section 8; apps sections, which no module checks here). Usage: test_cli_config.sh PATH/TO/execrpc
set -u
. "$(dirname "${BASH_SOURCE[0]}")/../lib.sh"
bin=${1:?usage: test_cli_config.sh EXECRPC}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
pass=0
fail=0

ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

# run ARGS...: sets rc, out, err
run() {
	"$bin" "$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	out=$(cat "$tmp/out")
	err=$(cat "$tmp/err")
}

write_config "$tmp/good.yaml" transport=tcp_local mode=process_supervisor
write_config "$tmp/bad.yaml" mode=forked
printf 'runtime:\n  platform: [\n' >"$tmp/syntax.yaml"

run config check "$tmp/good.yaml"
[ "$rc" -eq 0 ] && [ "$out" = "ok" ] && [ -z "$err" ] ||
	bad "check good: rc=$rc out=$out err=$err"
[ "$fail" -eq 0 ] && ok

f=$fail
run config check "$tmp/bad.yaml"
[ "$rc" -eq 2 ] || bad "check bad: rc=$rc (want 2)"
[ -z "$out" ] || bad "check bad: stdout not empty: $out"
case $err in
"execrpc: config_invalid (code -20): runtime.platform.bootstrap.mode:"*"inline, process_supervisor"*) ;;
*) bad "check bad: stderr: $err" ;;
esac
[ "$fail" -eq "$f" ] && ok

f=$fail
run config check "$tmp/syntax.yaml"
[ "$rc" -eq 2 ] || bad "check syntax: rc=$rc (want 2)"
case $err in
"execrpc: config_syntax (code -21): "*line*) ;;
*) bad "check syntax: stderr: $err" ;;
esac
[ "$fail" -eq "$f" ] && ok

f=$fail
run config check "$tmp/missing.yaml"
[ "$rc" -eq 2 ] || bad "check missing: rc=$rc (want 2)"
case $err in *missing.yaml*) ;; *) bad "check missing: stderr: $err" ;; esac
[ "$fail" -eq "$f" ] && ok

f=$fail
run config summary "$tmp/good.yaml"
[ "$rc" -eq 0 ] || bad "summary: rc=$rc err=$err"
python3 -c 'import json,sys; json.load(sys.stdin)' <"$tmp/out" ||
	bad "summary: not JSON"
grep -q '"transport": "tcp_local"' "$tmp/out" ||
	bad "summary: no tcp_local transport"
grep -q '"mode": "process_supervisor"' "$tmp/out" ||
	bad "summary: no process_supervisor mode"
[ "$fail" -eq "$f" ] && ok

f=$fail
"$bin" config summary "$tmp/good.yaml" >"$tmp/out2" 2>/dev/null
cmp -s "$tmp/out" "$tmp/out2" || bad "summary: not deterministic"
[ "$fail" -eq "$f" ] && ok

# apps.NAME: `config check` knows no application's module, so any
# well-formed section passes; a malformed one is config_invalid naming it
cat >"$tmp/apps.yaml" <<'YAML'
apps:
  someapp:
    anything: [1, {two: 2}]
  fundload:
    bogus: never checked here
YAML
write_config "$tmp/apps_bad.yaml" 'apps.x.k={}'
f=$fail
run config check "$tmp/apps.yaml"
[ "$rc" -eq 0 ] && [ "$out" = "ok" ] || bad "check apps: rc=$rc out=$out err=$err"
run config check "$tmp/apps_bad.yaml"
[ "$rc" -eq 2 ] || bad "check apps_bad: rc=$rc (want 2)"
case $err in
"execrpc: config_invalid (code -20): apps.x.k: an empty mapping"*) ;;
*) bad "check apps_bad: stderr: $err" ;;
esac
run config summary "$tmp/apps.yaml"
[ "$rc" -eq 0 ] || bad "summary apps: rc=$rc err=$err"
python3 -c '
import json, sys
s = json.load(sys.stdin)
assert s["apps"] == {"someapp": {"anything[0]": "1", "anything[1].two": "2"},
                     "fundload": {"bogus": "never checked here"}}, s["apps"]
g = s["process_groups"]
assert g == [{"name": "execution", "restart": "on-failure", "services": [],
              "workers": 2}], g
' <"$tmp/out" || bad "summary apps: sections or default group"
[ "$fail" -eq "$f" ] && ok

f=$fail
run config summary "$tmp/bad.yaml"
[ "$rc" -eq 2 ] && [ -z "$out" ] || bad "summary bad: rc=$rc out=$out"
[ "$fail" -eq "$f" ] && ok

f=$fail
for args in "--help" "bogus" "config" "config bogus x" "config check" \
    "config check a b"; do
	# shellcheck disable=SC2086
	run $args
	[ "$rc" -eq 64 ] || bad "usage ($args): rc=$rc (want 64)"
done
run --help
case $out in *"config check"*) ;; *) bad "--help: no usage on stdout" ;; esac
run
[ "$rc" -eq 64 ] || bad "no args: rc=$rc (want 64)"
[ "$fail" -eq "$f" ] && ok

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
