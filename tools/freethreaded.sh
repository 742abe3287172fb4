#!/usr/bin/env bash
# Find or build a free-threaded CPython (3.14t preferred, else 3.13t) and print its path
# as the LAST line of stdout; everything else goes to stderr.  `make freethreaded` runs it.
#
#   tools/freethreaded.sh                  find or build; print the interpreter's path
#   tools/freethreaded.sh --check-gil PY   import structures, bench and every dependency
#                                          in PY; fail if the GIL is on afterwards
#
# Where it looks, in order (each candidate must really be free-threaded:
# sysconfig.get_config_var("Py_GIL_DISABLED") == 1):
#   1. FT_PYTHON=/path (an error if that one is not free-threaded);
#   2. python3.14t on PATH, then the cached 3.14t build, python3.13t on PATH, the cached 3.13t;
#   3. otherwise it builds one from source into ${XDG_CACHE_HOME:-$HOME/.cache}/vmalab/python3.XXt
#      (kept: later calls print the cached path at once).
#
# The source comes from Debian's source packages through a private apt configuration (its own
# sources file with deb-src entries for unstable, testing and trixie on the machine's own mirror,
# its own lists and cache dirs; the system's apt state is not touched): python3.14 first, then
# python3.13, newest version whose files the mirror serves.  Only the upstream (.orig) tarball is
# fetched; it is built as is, without Debian's patches, by
#   ./configure --disable-gil --without-ensurepip --disable-test-modules --prefix=$CACHE/python3.XXt
#   make -j$(nproc) && make install                    (no PGO/LTO: a few minutes on 2 cores)
# and pip is then put in from the wheel the source tree bundles (ensurepip, offline), falling
# back to a pip wheel fetched by the machine's own pip.
#
# Environment: FT_PYTHON (use this interpreter), FT_DEBIAN_MIRROR (mirror URI instead of the one
# in /etc/apt), FT_JOBS (make -j, default: nproc), XDG_CACHE_HOME.
set -euo pipefail
shopt -s nullglob

log() { printf 'freethreaded: %s\n' "$*" >&2; }
die() {
    printf 'freethreaded: error: %s\n' "$1" >&2
    shift
    local line
    for line in "$@"; do printf '  %s\n' "$line" >&2; done
    [[ -n "${FT_PYTHON:-}" ]] && exit 1
    printf '  Or use a free-threaded CPython you have: FT_PYTHON=/path/to/python3.13t make ...\n' >&2
    printf '  (e.g. from "uv python install 3.13t", or the python.org installer'"'"'s free-threaded option).\n' >&2
    exit 1
}

CACHE_ROOT="${XDG_CACHE_HOME:-$HOME/.cache}/vmalab"
VERSIONS=(3.14 3.13)

# is_ft PY: PY runs, is CPython >= 3.13 and was built with --disable-gil.
is_ft() {
    "$1" -c 'import sys, sysconfig
ok = sys.version_info >= (3, 13) and sysconfig.get_config_var("Py_GIL_DISABLED") == 1
sys.exit(0 if ok else 1)' >/dev/null 2>&1
}

# has_pip PY
has_pip() { "$1" -m pip --version >/dev/null 2>&1; }

# abs_path CMD: the absolute path of a command or file
abs_path() {
    local p
    p="$(command -v "$1" 2>/dev/null)" || return 1
    case "$p" in /*) ;; *) p="$PWD/$p" ;; esac
    printf '%s\n' "$p"
}

cached_python() { printf '%s/python%st/bin/python%st\n' "$CACHE_ROOT" "$1" "$1"; }

# A cached build counts only once it is complete (the stamp is written last) and still works.
cached_ok() {
    local py
    py="$(cached_python "$1")"
    [[ -f "$CACHE_ROOT/python$1t/.vmalab-complete" ]] && is_ft "$py" && has_pip "$py"
}

# FT_PYTHON, when set, is the only candidate: an error if it is not free-threaded.
check_ft_python() {
    local p
    p="$(abs_path "$FT_PYTHON")" || die "FT_PYTHON=$FT_PYTHON: no such interpreter."
    is_ft "$p" || die "FT_PYTHON=$FT_PYTHON is not a free-threaded CPython >= 3.13" \
        "(sysconfig.get_config_var('Py_GIL_DISABLED') is not 1); unset FT_PYTHON to find or build one."
    printf '%s\n' "$p"
}

find_existing() {
    local v p
    for v in "${VERSIONS[@]}"; do
        if p="$(abs_path "python${v}t")" && is_ft "$p"; then
            printf '%s\n' "$p"
            return 0
        fi
        if cached_ok "$v"; then
            cached_python "$v"
            return 0
        fi
    done
    return 1
}

# ---------------------------------------------------------------------------------------------
# Building one

# missing_tools: the Debian package of each build tool this machine lacks
missing_tools() {
    command -v make >/dev/null 2>&1 || printf 'make\n'
    command -v tar >/dev/null 2>&1 || printf 'tar\n'
    command -v xz >/dev/null 2>&1 || printf 'xz-utils\n'
    command -v cc >/dev/null 2>&1 || command -v gcc >/dev/null 2>&1 || printf 'gcc\n'
}

need_tools() {
    local missing
    missing="$(missing_tools | paste -sd ' ')"
    [[ -z "$missing" ]] && return 0
    if can_apt_install; then
        log "missing build tools; installing: $missing"
        # shellcheck disable=SC2086  # one word per package
        apt_install $missing
        missing="$(missing_tools | paste -sd ' ')"
        [[ -z "$missing" ]] && return 0
    fi
    die "building CPython needs a C compiler and make, tar, xz; missing: $missing." \
        "Install them (Debian/Ubuntu: sudo apt-get install $missing) and run again."
}

can_apt_install() { [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null 2>&1; }

# The -dev packages CPython's build needs for the modules this lab and pip use (ssl, zlib, ctypes,
# bz2, lzma, sqlite3, readline): header -> Debian package.
DEV_HEADERS=(
    "openssl/ssl.h libssl-dev"
    "zlib.h zlib1g-dev"
    "ffi.h libffi-dev"
    "bzlib.h libbz2-dev"
    "lzma.h liblzma-dev"
    "sqlite3.h libsqlite3-dev"
    "readline/readline.h libreadline-dev"
)

apt_install() {
    if ! DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-upgrade "$@" >&2; then
        log "apt-get install failed; running apt-get update once and retrying"
        apt-get update -q >&2 || die "apt-get update failed (no network to the Debian mirror?)." \
            "Install by hand: apt-get install $*"
        DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends --no-upgrade "$@" >&2 \
            || die "apt-get install $* failed." "Install them by hand and run again."
    fi
}

missing_headers() {
    local cc entry
    cc="$(command -v cc || command -v gcc)"
    for entry in "${DEV_HEADERS[@]}"; do
        printf '#include <%s>\n' "${entry%% *}" | "$cc" -E -x c - >/dev/null 2>&1 || printf '%s\n' "${entry#* }"
    done
}

need_headers() {
    local missing
    missing="$(missing_headers | paste -sd ' ')"
    [[ -z "$missing" ]] && return 0
    if can_apt_install; then
        log "missing build dependencies: $missing- installing them with apt-get"
        # shellcheck disable=SC2086  # one word per package
        apt_install $missing
        missing="$(missing_headers | paste -sd ' ')"
        [[ -z "$missing" ]] && return 0
    fi
    die "missing build dependencies (their headers): $missing" \
        "Install them (Debian/Ubuntu: sudo apt-get install $missing) and run again."
}

# The machine's Debian mirror: the first URI of a non-security deb/deb-src entry in
# /etc/apt/sources.list.d/*.sources (deb822), /etc/apt/sources.list.d/*.list or /etc/apt/sources.list.
machine_mirror() {
    if [[ -n "${FT_DEBIAN_MIRROR:-}" ]]; then
        printf '%s\n' "${FT_DEBIAN_MIRROR%/}"
        return 0
    fi
    local f uri
    for f in /etc/apt/sources.list.d/*.sources; do
        uri="$(awk '
            function flush() { if (types ~ /deb/ && suites != "" && suites !~ /-security/ && uri != "" && !found) { print uri; found = 1 } types = suites = uri = "" }
            /^[[:space:]]*#/ { next }
            /^[[:space:]]*$/ { flush(); next }
            tolower($1) == "types:"  { types = $0 }
            tolower($1) == "suites:" { suites = $0 }
            tolower($1) == "uris:"   { uri = $2 }
            tolower($1) == "enabled:" && tolower($2) == "no" { types = "" }
            END { flush() }' "$f")"
        if [[ -n "$uri" ]]; then printf '%s\n' "${uri%/}"; return 0; fi
    done
    for f in /etc/apt/sources.list.d/*.list /etc/apt/sources.list; do
        [[ -f "$f" ]] || continue
        uri="$(awk '
            /^[[:space:]]*deb(-src)?[[:space:]]/ {
                i = 2
                if ($i ~ /^\[/) { while ($i !~ /\]$/) i++; i++ }
                if ($(i + 1) !~ /-security/) { print $i; exit }
            }' "$f")"
        if [[ -n "$uri" ]]; then printf '%s\n' "${uri%/}"; return 0; fi
    done
    return 1
}

# fetch_source DIR: download the newest python3.14 (else python3.13) upstream tarball that the
# mirror serves into DIR/dl; prints "VERSION TARBALL" (e.g. "3.13 /…/python3.13_3.13.15.orig.tar.xz").
fetch_source() {
    local work="$1" mirror keyring opts v pkg ver tarball
    command -v apt-get >/dev/null 2>&1 || die "this machine has no apt-get, so no Debian source package to build from." \
        "Install a free-threaded CPython another way (see below)."
    mirror="$(machine_mirror)" || die "no Debian mirror found in /etc/apt/sources.list{,.d/*} (set FT_DEBIAN_MIRROR=URI)."
    keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    mkdir -p "$work/lists/partial" "$work/cache/archives/partial" "$work/dl"
    {
        for suite in unstable testing trixie; do
            if [[ -f "$keyring" ]]; then
                printf 'deb-src [signed-by=%s] %s %s main\n' "$keyring" "$mirror" "$suite"
            else
                printf 'deb-src %s %s main\n' "$mirror" "$suite"
            fi
        done
    } >"$work/sources.list"
    opts=(-q -o "Dir::Etc::SourceList=$work/sources.list" -o Dir::Etc::SourceParts=/dev/null
        -o "Dir::State::Lists=$work/lists" -o "Dir::Cache=$work/cache")
    # apt drops root to _apt for downloads, which cannot write into our private dirs
    [[ $(id -u) == 0 ]] && opts+=(-o APT::Sandbox::User=root)
    log "apt-get update (private configuration: deb-src unstable, testing, trixie on $mirror)"
    apt-get "${opts[@]}" update >"$work/apt-update.log" 2>&1 || true
    if ! compgen -G "$work/lists/*_Sources*" >/dev/null; then
        sed 's/^/  | /' "$work/apt-update.log" >&2
        die "could not fetch any source list from $mirror (no network to the Debian mirror?)."
    fi
    grep -E '^(E|W):' "$work/apt-update.log" | sed 's/^/  apt: /' >&2 || true
    for v in "${VERSIONS[@]}"; do
        pkg="python$v"
        # every version of the source package the lists know, newest first
        for ver in $(apt-cache "${opts[@]}" showsrc --only-source "$pkg" 2>/dev/null \
            | awk '/^Version:/ { print $2 }' | sort -u | sort -rV); do
            log "apt-get source --download-only --tar-only $pkg=$ver"
            if (cd "$work/dl" && apt-get "${opts[@]}" source --download-only --tar-only "$pkg=$ver") \
                >"$work/apt-source.log" 2>&1; then
                ver="${ver#*:}"
                for tarball in "$work/dl/${pkg}_${ver%%-*}".orig.tar.*; do
                    [[ -f "$tarball" && "$tarball" != *.asc ]] || continue
                    printf '%s %s\n' "$v" "$tarball"
                    return 0
                done
            fi
            log "  not served by the mirror: $(grep -m1 -E '^E:' "$work/apt-source.log" || tail -n 1 "$work/apt-source.log")"
            rm -f "$work/dl"/*
        done
        log "no downloadable $pkg source"
    done
    die "neither python3.14 nor python3.13 source could be downloaded from $mirror."
}

build_python() {
    local v="$1" tarball="$2" work="$3" prefix src jobs
    prefix="$CACHE_ROOT/python${v}t"
    src="$work/src"
    jobs="${FT_JOBS:-$(nproc 2>/dev/null || echo 2)}"
    rm -rf "$prefix" "$src"
    mkdir -p "$src"
    log "unpacking $(basename "$tarball")"
    tar -xf "$tarball" -C "$src" --strip-components=1
    log "building CPython $v free-threaded into $prefix (make -j$jobs; log: $work/build.log)"
    if ! (
        cd "$src" &&
            ./configure --disable-gil --without-ensurepip --disable-test-modules --prefix="$prefix" &&
            make -j"$jobs" &&
            make install
    ) >"$work/build.log" 2>&1; then
        tail -n 40 "$work/build.log" >&2
        die "the CPython build failed (the whole log: $work/build.log)."
    fi
    is_ft "$prefix/bin/python${v}t" || die "the build finished but $prefix/bin/python${v}t is not free-threaded."
}

# ensure_pip PY WORK: pip for PY, first from the wheel ensurepip bundles (no network), else from a
# pip wheel the machine's own pip downloads from its package index.
ensure_pip() {
    local py="$1" work="$2" sys_py whl
    has_pip "$py" && return 0
    log "bootstrapping pip with ensurepip (the wheel the source bundles)"
    if "$py" -m ensurepip --default-pip >"$work/pip.log" 2>&1 && has_pip "$py"; then
        return 0
    fi
    log "ensurepip did not work; fetching a pip wheel with the machine's pip"
    sys_py=""
    for sys_py in python3 python; do
        command -v "$sys_py" >/dev/null 2>&1 && has_pip "$sys_py" && break
        sys_py=""
    done
    [[ -n "$sys_py" ]] || die "$py has no pip, its ensurepip failed, and no other python here has pip to fetch one." \
        "See $work/pip.log."
    mkdir -p "$work/pip"
    "$sys_py" -m pip download --quiet --no-deps --only-binary=:all: -d "$work/pip" pip >>"$work/pip.log" 2>&1 \
        || die "could not download a pip wheel (no network to the package index?); see $work/pip.log."
    for whl in "$work/pip"/pip-*.whl; do break; done
    # a wheel is a zip: run pip from inside it to install itself
    if ! "$py" "$whl/pip" install --quiet --no-index "$whl" >>"$work/pip.log" 2>&1 || ! has_pip "$py"; then
        die "installing pip from $whl failed; see $work/pip.log."
    fi
}

build() {
    local work out v tarball py
    need_tools
    need_headers
    mkdir -p "$CACHE_ROOT"
    rm -rf "$CACHE_ROOT"/build.*   # what failed builds left (we hold the build lock)
    work="$(mktemp -d "$CACHE_ROOT/build.XXXXXX")"
    out="$(fetch_source "$work")"
    v="${out%% *}" tarball="${out#* }"
    build_python "$v" "$tarball" "$work"
    py="$(cached_python "$v")"
    ensure_pip "$py" "$work"
    touch "$CACHE_ROOT/python${v}t/.vmalab-complete"
    rm -rf "$work"
    log "built $("$py" -VV | head -n 1)"
    printf '%s\n' "$py"
}

# ---------------------------------------------------------------------------------------------

# --check-gil PY: import the lab and everything it depends on; the GIL must still be off.
check_gil() {
    local py="$1"
    "$py" - <<'EOF'
import importlib, pkgutil, sys, sysconfig, warnings
if not sysconfig.get_config_var("Py_GIL_DISABLED"):
    sys.exit(f"{sys.executable} is not a free-threaded build")
warnings.simplefilter("always")
names = ["sortedcontainers", "bintrees", "pyperf", "rich", "hypothesis", "pytest", "pytest_timeout"]
optional = ["matplotlib", "matplotlib.pyplot", "cereggii"]
with warnings.catch_warnings(record=True) as caught:
    for pkg in ("structures", "bench"):
        mod = importlib.import_module(pkg)
        names += [m.name for m in pkgutil.walk_packages(mod.__path__, pkg + ".")]
    for name in names:
        importlib.import_module(name)
    for name in optional:
        try:
            importlib.import_module(name)
            names.append(name)
        except ImportError:
            pass
for w in caught:
    if "GIL" in str(w.message):
        print(f"  {w.category.__name__}: {w.message}", file=sys.stderr)
gil = sys._is_gil_enabled()
print(f"freethreaded: imported {len(names)} modules; GIL {'ON' if gil else 'off'} "
      f"(PYTHON_GIL={__import__('os').environ.get('PYTHON_GIL', 'unset')})", file=sys.stderr)
sys.exit(1 if gil else 0)
EOF
}

main() {
    if [[ "${1:-}" == "--check-gil" ]]; then
        [[ -n "${2:-}" ]] || die "usage: $0 --check-gil PYTHON"
        check_gil "$2"
        return
    fi
    [[ -z "${1:-}" ]] || die "usage: $0 [--check-gil PYTHON]"
    if [[ -n "${FT_PYTHON:-}" ]]; then
        check_ft_python
        return
    fi
    local found
    if found="$(find_existing)"; then
        printf '%s\n' "$found"
        return 0
    fi
    mkdir -p "$CACHE_ROOT"
    # one build at a time; a second caller waits, then finds the first one's interpreter
    if command -v flock >/dev/null 2>&1 && [[ -z "${FT_LOCKED:-}" ]]; then
        FT_LOCKED=1 exec flock "$CACHE_ROOT/.build.lock" "$0" "$@"
    fi
    build
}

main "$@"
exit
