# Sourced by the scripts in this folder: makes sure .venv exists and matches
# setup.cfg, then puts it first on PATH. Needs only Python 3.11+ and network
# access to the package index on first use.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$ROOT/.venv"

find_python() {
    for candidate in python3.11 python3.12 python3.13 python3; do
        if command -v "$candidate" >/dev/null 2>&1 &&
           "$candidate" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
            echo "$candidate"; return 0
        fi
    done
    echo "error: Python 3.11 or newer is required" >&2
    return 1
}

stamp_of() { cat "$ROOT/setup.cfg" "$ROOT/pyproject.toml" | sha256sum | cut -c1-16; }

STAMP="$VENV/.installed-$(stamp_of)"
if [ ! -f "$STAMP" ]; then
    echo "==> preparing the virtual environment in .venv (first run only)" >&2
    PY="$(find_python)"
    [ -x "$VENV/bin/python" ] || "$PY" -m venv "$VENV"
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check --upgrade pip >&2
    "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check -e "$ROOT[dev]" >&2
    rm -f "$VENV"/.installed-*
    touch "$STAMP"
fi
export PATH="$VENV/bin:$PATH"
export PYTHONDONTWRITEBYTECODE=1
cd "$ROOT"
