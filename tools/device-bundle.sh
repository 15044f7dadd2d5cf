#!/usr/bin/env bash
# device-bundle.sh: builds qlab for a GPU machine that cannot install packages, and
# packs what it needs next to the binaries, so one `run` there does the whole check.
#
#   bash tools/device-bundle.sh            # -> build/device/ (qlab, qlab-tests, test-gpu, libs.tar.xz)
#   then, on the GPU machine:  bash tools/gpu-check.sh --prebuilt build/device
#
# The machine lent for GPU work has the CUDA toolkit but maybe not libhdf5, libfyaml,
# OpenBLAS or Criterion, and reaches no package registry. So this builds here, with a
# portable CPU target (x86-64-v3: AVX2, no AVX-512, unlike -march=native) and copies
# every shared library the binaries load, except glibc's own and the CUDA libraries
# (those come from the GPU machine's driver and toolkit), into one compressed archive
# small enough to travel (the tree that travels is limited to 64 MiB).
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/device
bash tools/setup.sh
make -j"$(nproc)" B="$B" CUDA=1 CPU_ARCH=-march=x86-64-v3 "$B/qlab" "$B/qlab-tests" "$B/test-gpu"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for bin in "$B/qlab" "$B/qlab-tests" "$B/test-gpu"; do
    ldd "$bin" | awk '$3 ~ /^\// {print $3}'
done | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|ld-linux*) ;;
        libcuda.so*|libcudart.so*|libcublas*.so*|libnvidia*) ;;
        libstdc++.so*|libgcc_s.so*) ;;   # every machine with nvcc has newer ones
        *) cp -L "$lib" "$stage/" ;;
    esac
done
tar -C "$stage" -cJf "$B/libs.tar.xz" .
echo "device-bundle: $B ready ($(du -sh "$B" | cut -f1) with libs.tar.xz $(du -h "$B/libs.tar.xz" | cut -f1));"
echo "carry it with the run: carry [\"$B\"], command: bash tools/gpu-check.sh --prebuilt $B"
