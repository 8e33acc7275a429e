#!/usr/bin/env bash
# tests/sdk/test_kv_example.sh — examples/kv against the installed package,
# driven by docs/getting-started.md:
#
#  - every code block of the page that names a file of examples/kv equals
#    that file, and every source file of examples/kv is shown;
#  - every command of examples/kv/README.md is a line the page runs;
#  - the package list equals scripts/deps.sh's, the build-and-install block
#    is the one expected;
#  - `cmake --install` of BUILD_DIR into ~/.local, HOME being a temporary
#    directory (the page's own install line, on this build);
#  - then every other ```sh block runs, in order, as written: copy
#    examples/kv, configure it out of tree with find_package(execrpc) on
#    the prefix, build, `kv config check`, run kv under its supervisor with
#    2 workers and its typed calls (```sh terminal-1, in the background),
#    `execrpc status`, `execrpc call --protoset` (Get, a missing key, Put,
#    a key over its bound), `execrpc stop`; a ```text block after a block
#    is its exact output (stdout and stderr; pids, ports and $HOME
#    normalised), ```text terminal-1 the rest of kv's output once it has
#    exited with status 0;
#  - and, whatever the page says: the exact typed-client lines, 2 ready
#    workers in the status, the exact `execrpc call` answers, the graceful
#    stop; no path of the source or build tree in the example's build; the
#    example links the prefix's archives; nothing left running, no control
#    socket left.
#
# Usage: test_kv_example.sh BUILD_DIR SOURCE_DIR [EXTRA_FLAGS]
#   EXTRA_FLAGS: compiler+linker flags the archives need (the sanitizer
#   flags of an XR_SANITIZE build), given to the example's build as CFLAGS
#   and LDFLAGS.
# Prints "N passed, M failed"; exits non-zero on any failure.
set -u

build=$(cd "${1:?build dir}" && pwd)
src=$(cd "${2:?source dir}" && pwd)
extra=${3:-}
doc=$src/docs/getting-started.md
pass=0
fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
ko() { echo "FAIL: $*"; fail=$((fail + 1)); }

tmp=$(mktemp -d)
kvpid=
cleanup() {
	# kv and its workers: only the processes this test started (the
	# terminal-1 block runs in a process group of its own)
	if [ -n "$kvpid" ]; then
		kill -KILL -- "-$kvpid" 2>/dev/null
		wait "$kvpid" 2>/dev/null
	fi
	for p in $(worker_pids); do kill -KILL "$p" 2>/dev/null; done
	rm -rf "$tmp"
}
trap cleanup EXIT
finish() {
	echo "$pass passed, $fail failed"
	[ "$fail" -eq 0 ]
	exit
}
worker_pids() {
	[ -f "$tmp/t1.out" ] && awk '/^worker kv [0-9]+ pid [0-9]+ /{print $5}' "$tmp/t1.out"
}

case $tmp/ in "$src"/* | "$build"/*)
	ko "the temporary directory $tmp is inside the source or build tree"; finish ;;
esac

# ---- the page's blocks -------------------------------------------------------
# blocks/N.info (the fence's info string) and blocks/N.body, in page order
mkdir -p "$tmp/blocks"
awk -v dir="$tmp/blocks" '
	/^```/ && !inb { inb = 1; n++; f = sprintf("%s/%03d", dir, n);
		info = substr($0, 4); print info > (f ".info"); close(f ".info");
		printf "" > (f ".body"); next }
	/^```[ \t]*$/ && inb { inb = 0; close(f ".body"); next }
	inb { print > (f ".body") }
	END { if (inb) { print "unterminated code block" > "/dev/stderr"; exit 1 } }
' "$doc" || { ko "$doc: code blocks"; finish; }
blocks=$(cd "$tmp/blocks" && ls ./*.info | sed 's|^\./||; s|\.info$||')
info() { cat "$tmp/blocks/$1.info"; }

# ---- examples/kv/README.md: its commands are the page's -------------------------
# every command of the README's ```sh blocks (comments and blank lines
# aside) is a line of a ```sh block of the page, which this test runs
readme=$src/examples/kv/README.md
page_cmds=$(for b in $blocks; do
	case $(info "$b") in "sh"*) cat "$tmp/blocks/$b.body" ;; esac
done)
readme_cmds=$(awk '/^```sh/ { inb = 1; next } /^```/ { inb = 0 } inb' "$readme" |
	sed -E 's/[[:space:]]+#.*$//; /^[[:space:]]*(#|$)/d')
if [ -z "$readme_cmds" ]; then
	ko "$readme: no command in a sh block"
else
	missing=$(while IFS= read -r c; do
		grep -qxF -- "$c" <<<"$page_cmds" || echo "$c"
	done <<<"$readme_cmds")
	if [ -z "$missing" ]; then
		ok "the README's $(wc -l <<<"$readme_cmds") commands are the page's"
	else
		ko "the README's commands not run by the page: $missing"
	fi
fi

# ---- the files it shows -------------------------------------------------------
shown=
for b in $blocks; do
	read -r _ path _ <<<"$(info "$b")"
	case $path in examples/kv/*) ;; *) continue ;; esac
	shown="$shown $path"
	if [ ! -f "$src/$path" ]; then
		ko "the page shows $path, which does not exist"
	elif cmp -s "$tmp/blocks/$b.body" "$src/$path"; then
		ok "the page shows $path as it is"
	else
		ko "the page's $path differs from the file"
		diff -u "$src/$path" "$tmp/blocks/$b.body" | head -20
	fi
done
for f in $(cd "$src" && find examples/kv -type f ! -name README.md | LC_ALL=C sort); do
	case " $shown " in *" $f "*) ;; *) ko "the page does not show $f" ;; esac
done

# the line counts of "What you wrote": lines that are not blank and not
# only comments
loc() {
	sed -E 's://.*$::' "$1" | awk '
		{ line = $0; out = ""
		  while (length(line)) {
			if (c) { i = index(line, "*/"); if (!i) { line = ""; break }
				 line = substr(line, i + 2); c = 0 }
			else { i = index(line, "/*"); if (!i) { out = out line; break }
			       out = out substr(line, 1, i - 1); line = substr(line, i + 2); c = 1 }
		  }
		  if (out ~ /[^ \t]/) n++ }
		END { print n + 0 }'
}
row() { # the number of the "What you wrote" row that starts with $1
	awk -F'|' -v p="| $1" 'index($0, p) == 1 { gsub(/ /, "", $3); print $3 }' "$doc"
}
svc=$(( $(row '`kv_service.c`: the store') + $(row '`kv_service.c`: registering') ))
for f in kv_service.c main.c kv_client.c; do
	case $f in kv_service.c) want=$svc ;; *) want=$(row "\`$f\`:") ;; esac
	got=$(loc "$src/examples/kv/$f")
	if [ "$got" = "$want" ]; then
		ok "$f: $got lines of code, as the page says"
	else
		ko "$f: $got lines of code, the page says ${want:-nothing}"
	fi
done

# ---- the packages and the install ----------------------------------------------
by_info() { for b in $blocks; do [ "$(info "$b")" = "$1" ] && echo "$b"; done; }
b=$(by_info "sh deps")
# shellcheck disable=SC1091
. "$src/scripts/deps.sh"
want=$(printf '%s\n' "${XR_DEB_PACKAGES[@]}" | LC_ALL=C sort)
got=$(sed 1d "$tmp/blocks/$b.body" 2>/dev/null | tr -d '\\' | tr -s ' \n' '\n\n' |
	sed '/^$/d' | sed '1,4{/^sudo$/d;/^apt-get$/d;/^install$/d;/^-y$/d}' | LC_ALL=C sort)
if [ -n "$b" ] && [ "$(head -c 44 "$tmp/blocks/$b.body")" = "sudo apt-get update
sudo apt-get install -y " ] && [ "$got" = "$want" ]; then
	ok "the page's packages are scripts/deps.sh's"
else
	ko "the page's package list (block ${b:-none}) is not scripts/deps.sh's"
	diff <(echo "$want") <(echo "$got")
fi
b=$(by_info "sh build-execrpc")
want_build='cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo
cmake --build build -j"$(nproc)"
cmake --install build --prefix ~/.local'
if [ -n "$b" ] && [ "$(cat "$tmp/blocks/$b.body")" = "$want_build" ]; then
	ok "the page builds and installs execrpc as this test does"
else
	ko "the page's build-and-install block changed: update this test with it"
	cat "$tmp/blocks/$b.body" 2>/dev/null
fi

export HOME=$tmp/home
mkdir -p "$HOME"
prefix=$HOME/.local
# the page's last line on this build
if cmake --install "$build" --prefix ~/.local >"$tmp/install.log" 2>&1; then
	ok "cmake --install BUILD_DIR --prefix ~/.local"
else
	ko "cmake --install"; cat "$tmp/install.log"; finish
fi

# ---- run the page ------------------------------------------------------------
# The remaining ```sh blocks, in order, each in a bash that starts where the
# previous one ended (directory, exported variables); the first starts in
# the source tree. The example's build gets EXTRA_FLAGS from CFLAGS/LDFLAGS.
# Only the Debian packages and the prefix: PATH is the system's.
export PATH=/usr/local/bin:/usr/bin:/bin
export CFLAGS=$extra LDFLAGS=$extra
unset CMAKE_PREFIX_PATH PKG_CONFIG_PATH XR_SOURCE_DIR XR_BINARY_DIR
echo "$src" >"$tmp/cwd"
export -p >"$tmp/env"
norm() {
	sed -E -e "s|$HOME|/home/you|g" -e 's/pid [0-9]+/pid N/g' \
		-e 's/port [0-9]+/port N/g' -e 's/"(pid|port)":[0-9]+/"\1":N/g' "$@"
}
# script BLOCK [SAVE]: the script of the block: it starts where the last
# foreground one ended and, with SAVE, keeps where it ends
script() {
	{
		cat "$tmp/env"
		echo "cd '$(cat "$tmp/cwd")' || exit 99"
		cat "$tmp/blocks/$1.body"
		if [ -n "${2:-}" ]; then
			echo '__rc=$?'
			echo "pwd >'$tmp/cwd'"
			echo "export -p >'$tmp/env'"
			echo 'exit $__rc'
		fi
	} >"$tmp/blocks/$1.sh"
}
# lines LIMIT FILE N: wait until FILE has N lines (or LIMIT seconds)
lines() {
	for _ in $(seq 1 $(($1 * 20))); do
		[ "$(wc -l 2>/dev/null <"$2" || echo 0)" -ge "$3" ] && return 0
		sleep 0.05
	done
	return 1
}
prev=
t1_lines=0
for b in $blocks; do
	i=$(info "$b")
	case $i in
	"sh")
		script "$b" save
		timeout -s KILL 900 bash "$tmp/blocks/$b.sh" >"$tmp/blocks/$b.out" 2>&1
		rc=$?
		if [ "$rc" = 0 ]; then
			ok "block $b ran: $(head -1 "$tmp/blocks/$b.body")"
		else
			ko "block $b: exit $rc: $(cat "$tmp/blocks/$b.body")"
			tail -30 "$tmp/blocks/$b.out"
			finish
		fi
		prev=$b ;;
	"sh terminal-1")
		# in the background; the next blocks start where the last
		# foreground one ended
		script "$b"
		setsid bash "$tmp/blocks/$b.sh" >"$tmp/t1.out" 2>&1 &
		kvpid=$!
		prev=$b ;;
	"text")
		[ -n "$prev" ] || { ko "block $b: output of nothing"; continue; }
		want=$(norm "$tmp/blocks/$b.body")
		if [ "$(info "$prev")" = "sh terminal-1" ]; then
			t1_lines=$(wc -l <"$tmp/blocks/$b.body")
			lines 60 "$tmp/t1.out" "$t1_lines" ||
				ko "terminal 1: not $t1_lines lines within 60 s"
			got=$(norm "$tmp/t1.out")
		else
			got=$(norm "$tmp/blocks/$prev.out")
		fi
		if [ "$got" = "$want" ]; then
			ok "block $b: the output of block $prev"
		else
			ko "block $b: the output of block $prev differs"
			diff -u <(echo "$want") <(echo "$got")
		fi
		prev= ;;
	"text terminal-1")
		for _ in $(seq 1 600); do
			kill -0 "$kvpid" 2>/dev/null || break
			sleep 0.05
		done
		if kill -0 "$kvpid" 2>/dev/null; then
			ko "kv did not exit within 30 s"
			kill -KILL -- "-$kvpid"
		fi
		wait "$kvpid"
		rc=$?
		kvpid=
		[ "$rc" = 0 ] && ok "kv exited 0" || ko "kv exited $rc"
		want=$(norm "$tmp/blocks/$b.body")
		got=$(tail -n +$((t1_lines + 1)) "$tmp/t1.out" | norm)
		if [ "$got" = "$want" ]; then
			ok "block $b: the end of kv's output"
		else
			ko "block $b: the end of kv's output differs"
			diff -u <(echo "$want") <(echo "$got")
		fi
		prev= ;;
	*)
		prev= ;;
	esac
done
[ -z "$kvpid" ] || ko "the page never says how kv ends (text terminal-1)"

# ---- what the page must show, whatever it says -----------------------------------
outs=$(cat "$tmp"/blocks/*.out 2>/dev/null | norm)
t1=$(norm "$tmp/t1.out" 2>/dev/null)
want_t1='worker kv 0 pid N port N
worker kv 1 pid N port N
put a: created
put b: created
get a: 1
delete a: deleted
get a: NOT_FOUND: no such key
stop kv graceful'
[ "$t1" = "$want_t1" ] && ok "kv: 2 workers, the typed calls' answers, a graceful stop" ||
	ko "kv's output: $t1"
expect_out() { # what, exact line
	if grep -qxF -- "$2" <<<"$outs"; then ok "$1"; else ko "$1: no line '$2'"; fi
}
expect_out "execrpc status: 2 ready workers" \
	'{"stop_events":[],"workers":[{"generation":1,"group":"kv","index":0,"last_exit_status":-1,"last_signal":0,"pid":N,"port":N,"restarts":0,"state":"ready"},{"generation":1,"group":"kv","index":1,"last_exit_status":-1,"last_signal":0,"pid":N,"port":N,"restarts":0,"state":"ready"}]}'
expect_out "execrpc call Get b" '{"value":"2"}'
expect_out "execrpc call Get of a deleted key" 'execrpc: NOT_FOUND (status 5): no such key'
expect_out "... exits 105" 'exit status 105'
expect_out "execrpc call Put c" '{"created":true}'
expect_out "execrpc call Get c" '{"value":"3"}'
expect_out "a key over its bound" 'execrpc: INVALID_ARGUMENT (status 3): kv.v1.Kv/Put request: field kv.v1.PutRequest.key is 65 bytes, over its declared 64'
expect_out "... exits 103" 'exit status 103'
expect_out "a request over its method's limit" 'execrpc: RESOURCE_EXHAUSTED (status 8): request is 67 bytes, over the 66-byte limit of kv.v1.Kv/Get'
expect_out "... exits 108" 'exit status 108'
if grep -q '^{"stop_events":\[{"group":"kv","mode":"graceful"}\],' <<<"$outs"; then
	ok "execrpc stop: a graceful stop event"
else
	ko "execrpc stop: no graceful stop event"
fi

# ---- the example's build: the prefix only -------------------------------------
kvb=$HOME/kv/build
if [ -x "$kvb/kv" ]; then ok "built $kvb/kv"; else ko "no $kvb/kv"; fi
# its configuration, flags, link lines, dependency lists and generated code
# (text files; the installed archives' debug info names where they were
# compiled, which is not a dependency)
leak=$(grep -rIlF -e "$src" -e "$build" "$kvb" 2>/dev/null | head -5)
if [ -z "$leak" ] && [ -s "$kvb/CMakeFiles/kv.dir/compiler_depend.make" ]; then
	ok "no path of the source or build tree in the example's build"
else
	ko "the example's build names the source or build tree: $leak"
fi
if [ -z "$extra" ] || grep -qF -- "$extra" "$kvb/CMakeFiles/kv.dir/flags.make" 2>/dev/null; then
	ok "the example was compiled with the archives' flags (${extra:-none})"
else
	ko "the example was not compiled with $extra"
fi
if grep -qx "execrpc_DIR:PATH=$prefix/lib/cmake/execrpc" "$kvb/CMakeCache.txt" 2>/dev/null ||
   grep -qx "execrpc_DIR:PATH=$prefix/lib64/cmake/execrpc" "$kvb/CMakeCache.txt" 2>/dev/null; then
	ok "find_package(execrpc) found the prefix's package"
else
	ko "execrpc_DIR: $(grep '^execrpc_DIR' "$kvb/CMakeCache.txt" 2>/dev/null)"
fi
if grep -rqF -e "$prefix/lib/libexecrpc.a" "$kvb/CMakeFiles/kv.dir/link.txt" 2>/dev/null &&
   grep -rqF -e "$prefix/lib/libexecrpc-client.a" "$kvb/CMakeFiles/kv.dir/link.txt"; then
	ok "kv links the prefix's libexecrpc.a and libexecrpc-client.a"
else
	ko "kv's link line: $(cat "$kvb/CMakeFiles/kv.dir/link.txt" 2>/dev/null)"
fi
if grep -q -- "--plugin=protoc-gen-execrpc=$prefix/bin/protoc-gen-execrpc" \
    "$kvb/CMakeFiles/kv.dir/build.make" 2>/dev/null; then
	ok "execrpc_generate ran the prefix's protoc-gen-execrpc"
else
	ko "execrpc_generate did not run $prefix/bin/protoc-gen-execrpc"
fi

# ---- nothing left ----------------------------------------------------------------
left=
for p in $(worker_pids); do kill -0 "$p" 2>/dev/null && left="$left $p"; done
[ -n "$(worker_pids)" ] && [ -z "$left" ] && ok "no worker left running" ||
	ko "workers left running:${left:- (none seen)}"
[ ! -e "$kvb/kv.sock" ] && ok "no control socket left" || ko "$kvb/kv.sock left"
finish
