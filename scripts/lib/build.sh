# Shared by scripts/test, scripts/gpm-run and scripts/bench: install what the
# build needs from Debian's packages (idempotent) and build into $GPM_BUILD_DIR.
# Sourced, not executed.

GPM_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
GPM_BUILD_DIR=${GPM_BUILD_DIR:-$GPM_ROOT/build}

# Packages the build and the test suite need. Each is installed only when
# dpkg does not already list it as installed.
gpm_build_packages=(gcc g++ meson ninja-build pkg-config libcriterion-dev libunwind-dev valgrind binutils)

gpm_apt_install() {
    local missing=() p
    for p in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$p")
        fi
    done
    ((${#missing[@]})) || return 0
    local sudo=()
    if [[ $(id -u) -ne 0 ]]; then
        command -v sudo >/dev/null || { echo "gpm: need root or sudo to install: ${missing[*]}" >&2; return 1; }
        sudo=(sudo)
    fi
    echo "gpm: installing ${missing[*]}" >&2
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2; then
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -q >&2
        "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -q "${missing[@]}" >&2
    fi
}

# gpm_build: configure on first use, then let ninja bring the tree up to date.
gpm_build() {
    gpm_apt_install "${gpm_build_packages[@]}" || return 1
    if [[ ! -f $GPM_BUILD_DIR/build.ninja ]]; then
        meson setup "$GPM_BUILD_DIR" "$GPM_ROOT" --buildtype=debugoptimized >&2 || return 1
    fi
    meson compile -C "$GPM_BUILD_DIR" >&2
}
