#!/usr/bin/env bash
# reliability/test_redis_parity — fund-load parity for the redis_streams
# profile (docs/design.md sections 5 and 9): for a generated input with
# invalid lines and both rule sets, `fundload` over redis_streams (inline,
# a redis-server this test starts on a unix socket in a temporary
# directory, --save '' --appendonly no) gives the memory profile's stdout
# byte for byte, the same per-line diagnostics and the same exit status
# (65: invalid lines). Bounded: 4,000 lines per run.
set -u
bin=${XR_BINARY_DIR:?XR_BINARY_DIR not set}
fundload=$bin/apps/fundload/fundload
gen=$bin/tests/fundload/fundload_gen_input
tmp=$(mktemp -d /tmp/xr-rparity-XXXXXX)
rpid=""
cleanup() {
	[ -n "$rpid" ] && kill -9 "$rpid" 2>/dev/null && wait "$rpid" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
pass=0
fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

command -v redis-server >/dev/null || { echo "FAIL: no redis-server" >&2; exit 1; }
redis-server --port 0 --unixsocket "$tmp/r.sock" --save '' --appendonly no \
    --dir "$tmp" --loglevel warning >/dev/null 2>&1 &
rpid=$!
for _ in $(seq 100); do [ -S "$tmp/r.sock" ] && break; sleep 0.05; done
[ -S "$tmp/r.sock" ] || { echo "FAIL: redis-server did not start" >&2; exit 1; }

cat >"$tmp/redis.yaml" <<EOF
runtime:
  platform:
    execution_ipc:
      transport: redis_streams
      redis:
        unix_socket: $tmp/r.sock
        stream_prefix: parity
        max_stream_len: 100000
    process_groups:
      - name: execution
        services: [fundload.v1.FundLoad]
EOF

"$gen" 20240101 4000 >"$tmp/in.jsonl" || { echo "FAIL: generator" >&2; exit 1; }
for rules in baseline experiment; do
	"$fundload" --rules "$rules" "$tmp/in.jsonl" >"$tmp/mem" 2>"$tmp/mem.err"
	mrc=$?
	timeout 50 "$fundload" --rules "$rules" --config "$tmp/redis.yaml" \
	    "$tmp/in.jsonl" >"$tmp/red" 2>"$tmp/red.err"
	rrc=$?
	if [ "$mrc" -ne 65 ] || [ "$rrc" -ne "$mrc" ]; then
		bad "$rules: exit memory $mrc, redis_streams $rrc (want 65)"
		grep -v '^fundload: line ' "$tmp/red.err" | head -5 >&2
	elif ! cmp -s "$tmp/mem" "$tmp/red"; then
		bad "$rules: stdout differs"
		diff "$tmp/mem" "$tmp/red" | head -5 >&2
	elif ! cmp -s <(grep '^fundload: line ' "$tmp/mem.err") \
	    <(grep '^fundload: line ' "$tmp/red.err"); then
		bad "$rules: the line diagnostics differ"
	elif [ "$(wc -l <"$tmp/red")" -lt 3000 ]; then
		bad "$rules: only $(wc -l <"$tmp/red") lines decided"
	else
		ok
	fi
done
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
