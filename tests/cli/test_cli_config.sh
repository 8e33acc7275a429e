#!/usr/bin/env bash
# cli/config: `execrpc config check`, `execrpc config summary` and
# `execrpc config keys` (BOOT-CFG-01 and IPC-INT-03 through the CLI; exit
# statuses of docs/design.md section 8; apps sections, which no module checks
# here; the key table and its defaults). Usage: test_cli_config.sh PATH/TO/execrpc
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
              "workers": 2, "role": "execution"}], g
' <"$tmp/out" || bad "summary apps: sections or default group"
[ "$fail" -eq "$f" ] && ok

f=$fail
run config summary "$tmp/bad.yaml"
[ "$rc" -eq 2 ] && [ -z "$out" ] || bad "summary bad: rc=$rc out=$out"
[ "$fail" -eq "$f" ] && ok

# config keys: the table, one key per line, in table order (docs/config.md)
f=$fail
run config keys
[ "$rc" -eq 0 ] && [ -z "$err" ] || bad "keys: rc=$rc err=$err"
cp "$tmp/out" "$tmp/keys"
for want in \
    'runtime.platform.execution_ipc.transport	enum	memory, tcp_local	memory' \
    'runtime.platform.execution_ipc.bind_port	integer	0..65535	0' \
    'runtime.platform.execution_ipc.auth.secret_file	path	1..255 bytes	-' \
    'runtime.platform.execution_ipc.auth.secret	secret	32..4096 bytes	-' \
    'runtime.platform.lifecycle.drain_inflight	boolean	true, false	true' \
    'runtime.platform.process_groups	list	1..16 groups	[{name: execution, workers: 2}]' \
    'runtime.platform.process_groups[].name	name	1..63 bytes	required' \
    'runtime.platform.process_groups[].workers	integer	1..64	1' \
    'runtime.platform.process_groups[].services	list	0..16 services	[]' \
    'apps	mapping	0..8 sections	{}'; do
	grep -qxF "$want" "$tmp/keys" || bad "keys: no line \"$want\""
done
[ "$(head -n 1 "$tmp/keys")" = \
    'runtime.platform.execution_ipc.transport	enum	memory, tcp_local	memory' ] ||
	bad "keys: first line: $(head -n 1 "$tmp/keys")"
[ "$(tail -n 1 "$tmp/keys")" = 'apps	mapping	0..8 sections	{}' ] ||
	bad "keys: last line: $(tail -n 1 "$tmp/keys")"
# BOOT-CFG-04: the defaults it prints are what an empty config loads (the
# summary)
: >"$tmp/empty.yaml"
"$bin" config summary "$tmp/empty.yaml" >"$tmp/sum_empty" ||
	bad "summary of an empty file"
python3 - "$tmp/keys" "$tmp/sum_empty" <<'PY' || bad "keys: defaults differ from the summary"
import json, re, sys
s = json.load(open(sys.argv[2]))
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
assert all(len(r) == 4 for r in rows), "not 4 columns"
paths = [r[0] for r in rows]
assert len(paths) == len(set(paths)), "a path twice"
scalars = 0
for path, typ, rng, dflt in rows:
    if not path.startswith("runtime.platform.") or "[]" in path:
        continue
    node = s
    for part in path[len("runtime.platform."):].split("."):
        node = node.get(part) if isinstance(node, dict) else None
    if typ == "integer":
        assert node == int(dflt), (path, node, dflt)
        lo, hi = (int(x) for x in rng.split(".."))
        assert lo <= node <= hi, (path, rng)
    elif typ == "boolean":
        assert node == (dflt == "true"), (path, node, dflt)
    elif typ in ("enum", "host", "path") and dflt != "-":
        assert node == dflt, (path, node, dflt)
        if typ == "enum":
            assert dflt in rng.split(", "), (path, rng)
    elif typ in ("path", "secret"):
        assert node is None and dflt == "-", (path, node, dflt)
        continue
    else:
        continue
    scalars += 1
assert scalars == 14, "checked %d scalar defaults, want 14" % scalars
# the default group: the list default, its unset keys from the group rows
m = re.fullmatch(r"\[\{name: (\S+), workers: (\d+)\}\]",
                 dict((r[0], r[3]) for r in rows)["runtime.platform.process_groups"])
g = dict((r[0].split(".")[-1], r[3]) for r in rows if "[]" in r[0])
assert s["process_groups"] == [{"name": m.group(1), "workers": int(m.group(2)),
                               "restart": g["restart"], "services": [],
                               "role": g["role"]}], \
    s["process_groups"]
assert g["services"] == "[]" and s["apps"] == {}
PY
run config keys extra
[ "$rc" -eq 64 ] && [ -z "$out" ] || bad "keys extra: rc=$rc out=$out (want 64)"
[ "$fail" -eq "$f" ] && ok

f=$fail
for args in "bogus" "config" "config bogus x" "config check" \
    "config check a b" "--help x"; do
	# shellcheck disable=SC2086
	run $args
	[ "$rc" -eq 64 ] || bad "usage ($args): rc=$rc (want 64)"
	[ -z "$out" ] || bad "usage ($args): stdout: $out"
done
for h in --help -h; do
	run $h
	[ "$rc" -eq 0 ] && [ -z "$err" ] || bad "$h: rc=$rc (want 0) err=$err"
	case $out in "usage: execrpc COMMAND"*"config check"*"config keys"*) ;;
	*) bad "$h: no usage on stdout" ;; esac
done
run
[ "$rc" -eq 64 ] || bad "no args: rc=$rc (want 64)"
[ "$fail" -eq "$f" ] && ok

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
