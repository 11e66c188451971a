#!/usr/bin/env bash
# tests/install/meson.build describes this test. Arguments: the build and
# source roots, then the installed bindir, gpm libdir, gpm datadir and
# mandir (absolute, prefix included), then the binding test program.
set -euo pipefail
build=$1 src=$2 bindir=$3 libdir=$4 datadir=$5 mandir=$6 binding=$7
fail() { echo "FAIL: $*" >&2; exit 1; }

dest=$(mktemp -d "${TMPDIR:-/tmp}/gpm-install.XXXXXX")
trap 'rm -rf "$dest"' EXIT
dest=$(readlink -f "$dest")
meson install -C "$build" --destdir "$dest" --no-rebuild --quiet

gpm_run=$dest$bindir/gpm-run
gpm_so=$dest$libdir/libgpm.so
page=$dest$mandir/man1/gpm-run.1
[[ -x $gpm_run ]] || fail "no executable $gpm_run"
[[ -f $gpm_so ]] || fail "no $gpm_so"
[[ -f $dest$datadir/gpm.supp ]] || fail "no $dest$datadir/gpm.supp"
[[ -f $page ]] || fail "no $page"
# Not beside Debian's console-mouse libgpm.so.
[[ ! -e $(dirname "$gpm_so")/../libgpm.so ]] || fail "libgpm.so installed in the plain libdir"
echo "installed: $(cd "$dest" && find . -type f | sort | tr '\n' ' ')"

# The installed gpm-run, straight and through a symbolic link elsewhere,
# preloads the installed library (not the build tree's).
ln -s "$gpm_run" "$dest/gpm-run-link"
for run in "$gpm_run" "$dest/gpm-run-link"; do
    out=$(env -u LD_PRELOAD GPM_TEST_MODE=gpm "$run" "$binding") || fail "$run $binding: exit $?: $out"
    grep -qxF "pthread_create -> $gpm_so" <<<"$out" || fail "$run: pthread_create not bound to $gpm_so: $out"
done
echo "gpm-run: pthread_create -> $gpm_so"
# With LD_PRELOAD already set, gpm comes first and the rest is kept.
preload=$(LD_PRELOAD=libc.so.6 "$gpm_run" sh -c 'echo "$LD_PRELOAD"')
[[ $preload == "$gpm_so:libc.so.6" ]] || fail "LD_PRELOAD under gpm-run is $preload"

# The page names every variable and GPM_DEBUG setting of README's tables
# (in the source, where hyphenation cannot split a name).
readme_names=$(sed -n '/^## Configuration/,/^## /p' "$src/README.md" |
    sed -nE 's/^\| `(GPM_[A-Z_]+)`.*/\1/p; s/^\| `([a-z_]+=)[^`]*`.*/\1/p')
[[ $(wc -l <<<"$readme_names") -ge 10 ]] || fail "README's Configuration tables not found: $readme_names"
for name in $readme_names; do
    grep -qF -- "$name" "$page" || fail "gpm-run.1 does not describe $name (README, Configuration)"
done
grep -qF -- '\-\-valgrind' "$page" || fail "gpm-run.1 does not describe --valgrind"
echo "gpm-run.1 names:" $readme_names --valgrind

if ! command -v man >/dev/null; then
    echo "man not installed: the page's rendering is not checked"
    exit 0
fi
err=$dest/man.err
text=$(MANWIDTH=80 man --warnings -l "$page" 2>"$err" | sed 's/.\x08//g')
[[ ! -s $err ]] || fail "man -l $page: $(cat "$err")"
grep -q '^NAME' <<<"$text" && grep -q 'gpm-run - run a program' <<<"$text" ||
    fail "man -l $page rendered no NAME section: $text"
echo "man -l: $(wc -l <<<"$text") lines, no warnings"
