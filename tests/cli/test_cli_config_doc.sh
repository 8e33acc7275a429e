#!/usr/bin/env bash
# cli/config_doc: docs/config.md and docs/execrpc.example.yaml against the
# config table, as `execrpc config keys` prints it (core/cfgtab.c):
#  - the example is a valid config (`execrpc config check` exit 0), its
#    commented-out secret sources are valid when switched on, and it sets
#    exactly the defaults (its summary is the empty file's, plus
#    apps.fundload.rules: baseline);
#  - every key path of the table is in the example (a "# key: value" line
#    counts) and has a row in docs/config.md's key table, and nothing else
#    does;
#  - each row's type, range and default in docs/config.md equal the table's;
#  - the checker fails on a doc with a changed default, a table with a key
#    nobody documented, and an example without a key.
# Usage: test_cli_config_doc.sh PATH/TO/execrpc SOURCE_DIR
set -u
bin=${1:?usage: test_cli_config_doc.sh EXECRPC SOURCE_DIR}
src=${2:?usage: test_cli_config_doc.sh EXECRPC SOURCE_DIR}
doc=$src/docs/config.md
example=$src/docs/execrpc.example.yaml
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

# The checker: KEYS (config keys output), DOC, EXAMPLE. Prints one line per
# problem on stderr; exits 1 if there is any.
cat >"$tmp/check.py" <<'PY'
import re
import sys

keys_f, doc_f, ex_f = sys.argv[1:4]
errors = []

# `execrpc config keys`: PATH TYPE RANGE DEFAULT, tab-separated
rows = {}
for line in open(keys_f, encoding="utf-8"):
    f = line.rstrip("\n").split("\t")
    if len(f) != 4 or not f[0]:
        errors.append("config keys: not 4 columns: %r" % line)
        continue
    if f[0] in rows:
        errors.append("config keys: %s twice" % f[0])
    rows[f[0]] = f[1:]
if not rows:
    errors.append("config keys: no key")

# docs/config.md: the rows of the key table, "| `PATH` | TYPE | RANGE |
# DEFAULT | meaning |"; backticks are markup
doc = {}
for n, line in enumerate(open(doc_f, encoding="utf-8"), 1):
    if not line.startswith("| `"):
        continue
    cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip())[1:-1]]
    path = cells[0].replace("`", "")
    if not re.fullmatch(r"runtime\.[a-z_.\[\]]+|apps", path):
        continue
    if len(cells) < 4:
        errors.append("%s:%d: %s: fewer than 4 columns" % (doc_f, n, path))
        continue
    if path in doc:
        errors.append("%s:%d: %s: a second row" % (doc_f, n, path))
    doc[path] = [c.replace("`", "") for c in cells[1:4]]
for p, want in rows.items():
    if p not in doc:
        errors.append("%s: no row for key %s" % (doc_f, p))
    elif doc[p] != want:
        errors.append("%s: %s: type, range, default %s; the table says %s"
                      % (doc_f, p, doc[p], want))
for p in doc:
    if p not in rows:
        errors.append("%s: a row for %s, which is no key" % (doc_f, p))

# the example: key paths by indentation (block style); "# key: value"
# lines are keys left out on purpose and count, but must be real keys
seen = set()
stack = []  # (indent, component); "[]" marks a list item
for n, line in enumerate(open(ex_f, encoding="utf-8"), 1):
    line = line.rstrip("\n")
    m = re.match(r"^( *)# ([a-z_]+:(\s.*)?)$", line)
    commented = m is not None
    if commented:
        line = m.group(1) + m.group(2)
    if line.strip() == "" or line.lstrip().startswith("#"):
        continue
    m = re.match(r"^( *)(- +)?([A-Za-z0-9_.-]+):(\s|$)", line)
    if m is None:
        continue
    ind = len(m.group(1))
    if m.group(2):
        while stack and stack[-1][0] >= ind:
            stack.pop()
        stack.append((ind, "[]"))
        ind += len(m.group(2))
    while stack and stack[-1][0] >= ind:
        stack.pop()
    stack.append((ind, m.group(3)))
    path = ""
    for _, c in stack:
        path += c if c == "[]" or not path else "." + c
    seen.add(path)
    if commented and path not in rows:
        errors.append("%s:%d: commented key %s is no key" % (ex_f, n, path))
for p in rows:
    if p not in seen:
        errors.append("%s: key %s missing" % (ex_f, p))

for e in errors:
    print(e, file=sys.stderr)
sys.exit(1 if errors else 0)
PY

# ---- config keys -----------------------------------------------------------

f=$fail
run config keys
[ "$rc" -eq 0 ] && [ -z "$err" ] || bad "config keys: rc=$rc err=$err"
cp "$tmp/out" "$tmp/keys"
[ "$(wc -l <"$tmp/keys")" -ge 20 ] || bad "config keys: under 20 keys"
[ "$fail" -eq "$f" ] && ok

# ---- (a) the example is a valid config ---------------------------------------

f=$fail
run config check "$example"
[ "$rc" -eq 0 ] && [ "$out" = "ok" ] && [ -z "$err" ] ||
	bad "check example: rc=$rc out=$out err=$err"
[ "$fail" -eq "$f" ] && ok

# its commented-out secret sources, switched on one at a time with
# secret_mode: static; config check reads the secret_file as a start does,
# so its path is pointed at a real 0600 file, and a config that holds the
# inline secret must be 0600 itself
f=$fail
printf '%s\n' 0123456789abcdef0123456789abcdef >"$tmp/secret"
chmod 0600 "$tmp/secret"
for k in secret_file secret; do
	sed -e 's/^\( *secret_mode:\) generated$/\1 static/' \
	    -e "s/^\\( *\\)# \\($k: \\)/\\1\\2/" \
	    -e "s|^\\( *secret_file:\\) /etc/execrpc/secret$|\\1 $tmp/secret|" \
	    "$example" >"$tmp/$k.yaml"
	chmod 0600 "$tmp/$k.yaml"
	grep -q '^ *secret_mode: static$' "$tmp/$k.yaml" &&
	    grep -q "^ *$k: " "$tmp/$k.yaml" ||
		bad "example: no secret_mode line or no \"# $k:\" line"
	run config check "$tmp/$k.yaml"
	[ "$rc" -eq 0 ] && [ "$out" = "ok" ] ||
		bad "check example with $k: rc=$rc out=$out err=$err"
done
[ "$fail" -eq "$f" ] && ok

# BOOT-CFG-04: it sets the defaults: its summary is the empty file's, plus
# its apps
f=$fail
: >"$tmp/empty.yaml"
"$bin" config summary "$example" >"$tmp/sum_example" 2>&1 ||
	bad "summary example: $(cat "$tmp/sum_example")"
"$bin" config summary "$tmp/empty.yaml" >"$tmp/sum_empty" 2>&1 ||
	bad "summary empty: $(cat "$tmp/sum_empty")"
python3 - "$tmp/sum_example" "$tmp/sum_empty" <<'PY' || bad "example: not the defaults"
import json, sys
ex = json.load(open(sys.argv[1]))
empty = json.load(open(sys.argv[2]))
assert ex.pop("apps") == {"fundload": {"rules": "baseline"}}, "apps"
assert empty.pop("apps") == {}, "empty apps"

def flat(v, p, out):
    if isinstance(v, dict):
        for k in v:
            flat(v[k], p + "." + k if p else k, out)
    elif isinstance(v, list) and v:
        for i, x in enumerate(v):
            flat(x, "%s[%d]" % (p, i), out)
    else:
        out[p] = v
    return out

fe, fd = flat(ex, "", {}), flat(empty, "", {})
diff = [k for k in sorted(set(fe) | set(fd)) if fe.get(k) != fd.get(k)]
for k in diff:
    print("example: %s is %r, the default is %r" % (k, fe.get(k), fd.get(k)),
          file=sys.stderr)
sys.exit(1 if diff else 0)
PY
[ "$fail" -eq "$f" ] && ok

# ---- (b), (c) every key in the doc and the example; the doc's columns -------

f=$fail
python3 "$tmp/check.py" "$tmp/keys" "$doc" "$example" ||
	bad "docs/config.md or the example disagree with config keys (above)"
[ "$fail" -eq "$f" ] && ok

# ---- the checker fails when it must ----------------------------------------

f=$fail
# a default that changed in the code but not in the doc
sed 's/^\(runtime\.platform\.execution_ipc\.auth\.nonce_cache_size\t.*\t\)65536$/\165535/' \
    "$tmp/keys" >"$tmp/keys_def"
cmp -s "$tmp/keys" "$tmp/keys_def" && bad "mutant: nonce_cache_size line not found"
python3 "$tmp/check.py" "$tmp/keys_def" "$doc" "$example" 2>"$tmp/why" &&
	bad "checker passed a changed default"
grep -q 'nonce_cache_size: type, range, default' "$tmp/why" ||
	bad "changed default: $(cat "$tmp/why")"
# a range that changed
sed 's/^\(runtime\.platform\.lifecycle\.ready_timeout_seconds\tinteger\t\)1\.\.3600/\11..60/' \
    "$tmp/keys" >"$tmp/keys_range"
python3 "$tmp/check.py" "$tmp/keys_range" "$doc" "$example" 2>/dev/null &&
	bad "checker passed a changed range"
# a key added to the table, documented nowhere
{ cat "$tmp/keys"; printf 'runtime.platform.lifecycle.new_key\tinteger\t0..1\t0\n'; } \
    >"$tmp/keys_new"
python3 "$tmp/check.py" "$tmp/keys_new" "$doc" "$example" 2>"$tmp/why" &&
	bad "checker passed an undocumented key"
grep -q 'no row for key runtime.platform.lifecycle.new_key' "$tmp/why" &&
    grep -q 'key runtime.platform.lifecycle.new_key missing' "$tmp/why" ||
	bad "undocumented key: $(cat "$tmp/why")"
# an example without a key, and one whose commented key is no key
grep -v '^ *ttl_seconds: ' "$example" >"$tmp/ex_missing.yaml"
python3 "$tmp/check.py" "$tmp/keys" "$doc" "$tmp/ex_missing.yaml" 2>"$tmp/why" &&
	bad "checker passed an example without ttl_seconds"
grep -q 'key runtime.platform.execution_ipc.auth.ttl_seconds missing' "$tmp/why" ||
	bad "example without ttl_seconds: $(cat "$tmp/why")"
sed 's/^\( *\)# secret_file: /\1# secret_fil: /' "$example" >"$tmp/ex_typo.yaml"
python3 "$tmp/check.py" "$tmp/keys" "$doc" "$tmp/ex_typo.yaml" 2>"$tmp/why" &&
	bad "checker passed a commented key that is no key"
grep -q 'commented key runtime.platform.execution_ipc.auth.secret_fil is no key' \
    "$tmp/why" || bad "commented typo: $(cat "$tmp/why")"
# a doc row for a key the table does not have
sed 's/`runtime\.platform\.control\.socket`/`runtime.platform.control.sock`/' \
    "$doc" >"$tmp/doc_stale.md"
python3 "$tmp/check.py" "$tmp/keys" "$tmp/doc_stale.md" "$example" 2>"$tmp/why" &&
	bad "checker passed a doc row for no key"
grep -q 'a row for runtime.platform.control.sock, which is no key' "$tmp/why" ||
	bad "stale doc row: $(cat "$tmp/why")"
[ "$fail" -eq "$f" ] && ok

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
