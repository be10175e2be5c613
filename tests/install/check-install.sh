#!/bin/bash
# check-install.sh: builds the source tree with --prefix=/usr, installs it into a DESTDIR and compares the installed files with expected-files.txt.
# Usage: check-install.sh SOURCE_DIR EXPECTED_FILES
#
# Output is TAP. A second check sets up the tree with another prefix and
# asks meson where every file would go: all of it must land under that
# prefix, which shows that directories taken from pkg-config (D-Bus, polkit,
# systemd) follow --prefix rather than the host's own.
set -uo pipefail

src=$1 expected=$2
tmp=$(mktemp -d "${TMPDIR:-/tmp}/pic-install.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
export LC_ALL=C.UTF-8

setup_options=(-Dtests=false -Dgtk_client=enabled)
count=0 failed=0

ok() { count=$((count + 1)); echo "ok $count - $*"; }
not_ok() { count=$((count + 1)); failed=$((failed + 1)); echo "not ok $count - $*"; }
diag() { local line; while IFS= read -r line; do echo "# $line"; done <<<"$*"; }
finish() {
        echo "1..$count"
        (( failed == 0 ))
        exit
}

# step DESC CMD…: runs CMD; on failure reports DESC with the end of its output and stops.
step() {
        local desc=$1; shift
        local out
        if ! out=$("$@" 2>&1); then
                not_ok "$desc"
                diag "command: $*"
                diag "$(tail -n 40 <<<"$out")"
                finish
        fi
}

step "meson setup --prefix=/usr" meson setup "$tmp/build" "$src" --prefix=/usr "${setup_options[@]}"
step "the build" meson compile -C "$tmp/build"
step "meson install --destdir" meson install -C "$tmp/build" --destdir "$tmp/root" --no-rebuild

# Every file and symbolic link; directories follow from them.
(cd "$tmp/root" && find . -mindepth 1 ! -type d -printf '/%P\n') | sort >"$tmp/actual"
# @LIBDIR@: the build's libdir, which depends on the architecture (Debian's
# lib/x86_64-linux-gnu, say).
libdir=$(meson introspect "$tmp/build" --buildoptions |
        python3 -c 'import json, sys; print(next(o["value"] for o in json.load(sys.stdin) if o["name"] == "libdir"))')
grep -v -e '^#' -e '^[[:space:]]*$' "$expected" | sed "s|@LIBDIR@|/usr/$libdir|" | sort >"$tmp/expected"
if out=$(diff -u --label expected-files.txt --label installed "$tmp/expected" "$tmp/actual"); then
        ok "the DESTDIR install holds exactly the $(wc -l <"$tmp/expected") expected files"
else
        not_ok "the DESTDIR install differs from expected-files.txt ('+' installed but not expected, '-' expected but missing)"
        diag "$out"
fi

if [[ -x $tmp/root/usr/libexec/pic-celld ]]; then
        ok "pic-celld is installed executable"
else
        not_ok "pic-celld is installed executable"
fi

# The other prefix: configured only, meson knows every destination then.
other=/opt/pic-cell-prefix-check
step "meson setup --prefix=$other" meson setup "$tmp/other" "$src" --prefix="$other" "${setup_options[@]}"
if ! out=$(meson introspect "$tmp/other" --installed 2>&1); then
        not_ok "meson introspect --installed"
        diag "$out"
        finish
fi
outside=$(python3 -c '
import json, sys
prefix = sys.argv[1] + "/"
for dest in sorted(json.load(sys.stdin).values()):
    if not dest.startswith(prefix):
        print(dest)' "$other" <<<"$out")
if [[ -z $outside ]]; then
        ok "with --prefix=$other every file lands under it"
else
        not_ok "with --prefix=$other some files land outside it"
        diag "$outside"
fi
finish
