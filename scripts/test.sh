#!/usr/bin/env bash
# The whole test suite from a fresh clone: installs what it needs, builds the release wheel,
# installs it with the test extras into a virtualenv, then runs the Rust tests and pytest.
# Usage: bash scripts/test.sh [extra pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."

PYTHON=${PYTHON:-python3}
VENV=${FERRONET_TEST_VENV:-.venv-test}

"$PYTHON" -m venv "$VENV"
# shellcheck disable=SC1091
. "$VENV/bin/activate"
python -m pip install --quiet --upgrade pip
python -m pip install --quiet "maturin>=1.9,<2"

echo "== cargo test (engine, no Python) =="
cargo test --quiet

echo "== build the wheel (release, abi3) =="
rm -rf dist
maturin build --release --quiet --out dist
# With an MPI launcher on the machine (or FERRONET_REQUIRE_MPI=1, as in CI) the MPI extra too:
# tests/distribute runs `mpiexec` jobs, and with FERRONET_REQUIRE_MPI=1 fails rather than skips
# when mpiexec or mpi4py is missing.
EXTRAS=test
if command -v mpiexec >/dev/null || [ "${FERRONET_REQUIRE_MPI:-0}" = 1 ]; then
    EXTRAS=test,mpi
fi
python -m pip install --quiet --force-reinstall "$(ls dist/ferronet-*.whl)[$EXTRAS]"

echo "== pytest =="
# Run from outside the source tree so the installed wheel, not python/, is what gets imported.
(cd tests && python -m pytest -q -p no:cacheprovider "$@" .)

echo "== docstring examples (pytest --doctest-modules on the installed package) =="
PACKAGE_DIR=$(cd / && python -c "import ferronet, os; print(os.path.dirname(ferronet.__file__))")
(cd / && python -m pytest -q -p no:cacheprovider --doctest-modules "$PACKAGE_DIR")
