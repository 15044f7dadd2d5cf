#!/usr/bin/env bash
# run.sh: the Python package's tests (python/tests, pytest), run by `make test`.
#
# Uses the first Python that has numpy, h5py, pandas and pytest: $PYTHON, python3 on
# PATH, /usr/bin/python3 (Debian's, where tools/setup.sh installs python3-numpy,
# python3-h5py, python3-pandas and python3-pytest). None: fails, saying what to
# install (the tests are never skipped silently). Needs $QLAB (the qlab binary) and
# $QLAB_LIBQUANT (libquant.so, `make python-lib`); the package is the tree's python/.
set -u
cd "$(dirname "$0")/../.." || exit 2
py=""
for c in ${PYTHON:-} python3 /usr/bin/python3; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import numpy, h5py, pandas, pytest' 2>/dev/null; then
        py=$c; break
    fi
done
if [ -z "$py" ]; then
    echo "python tests: no Python with numpy, h5py, pandas and pytest; install them" >&2
    echo "  (Debian: apt-get install python3-numpy python3-h5py python3-pandas python3-pytest," >&2
    echo "   or tools/setup.sh; pip: pip install numpy h5py pandas pytest) or set PYTHON=" >&2
    exit 1
fi
[ -n "${QLAB:-}" ] || { echo "python tests: set QLAB to the qlab binary" >&2; exit 2; }
[ -n "${QLAB_LIBQUANT:-}" ] || { echo "python tests: set QLAB_LIBQUANT to libquant.so (make python-lib)" >&2; exit 2; }
QLAB=$(realpath "$QLAB") QLAB_LIBQUANT=$(realpath "$QLAB_LIBQUANT") \
    PYTHONPATH="$PWD/python${PYTHONPATH:+:$PYTHONPATH}" PYTHONDONTWRITEBYTECODE=1 \
    exec "$py" -m pytest -q -p no:cacheprovider -rs python/tests
