#!/usr/bin/env bash
# setup.sh: installs the Debian packages qlab needs; quiet when all are present.
#
# Idempotent. Called by `make run` and `make test`, so a fresh Debian machine needs
# nothing else. On a non-Debian system it prints what to install by hand and exits 2.
# nvcc (the CUDA toolkit) is optional and never installed here: without it the CUDA
# backend is simply not built.
set -euo pipefail

PKGS=(build-essential pkg-config libhdf5-dev hdf5-tools libfyaml-dev libopenblas-dev
      libcriterion-dev gnuplot-nox)

missing=()
if command -v dpkg-query >/dev/null 2>&1; then
    for p in "${PKGS[@]}"; do
        st=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
        [[ "$st" == "install ok installed" ]] || missing+=("$p")
    done
else
    echo "setup.sh: this is not a Debian-like system (no dpkg)." >&2
    echo "Install by hand: a C11 compiler with OpenMP, make, pkg-config, HDF5 (C library and" >&2
    echo "h5dump), libfyaml, OpenBLAS (cblas), Criterion and gnuplot (with the cairo terminals)." >&2
    exit 2
fi

[[ ${#missing[@]} -eq 0 ]] && exit 0

echo "setup.sh: installing ${missing[*]}" >&2
SUDO=""
if [[ $(id -u) -ne 0 ]]; then
    if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
        echo "setup.sh: not root and no sudo; run as root: apt-get install ${missing[*]}" >&2
        exit 2
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "setup.sh: done" >&2
