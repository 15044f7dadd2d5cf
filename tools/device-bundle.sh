#!/usr/bin/env bash
# device-bundle.sh: builds qlab for a GPU machine that cannot install packages, and
# packs what it needs next to the binaries, so one `run` there does the whole check.
#
#   bash tools/device-bundle.sh    # -> build/device/: qlab, test-gpu, libs.tar.xz, nothing else
#   then, on the GPU machine (carry ["build/device"]):
#       bash tools/gpu-check.sh --prebuilt build/device --profile first
#
# The machine lent for GPU work has the CUDA toolkit but not libhdf5, libfyaml, OpenBLAS
# or Criterion, and reaches no package registry. So this builds here (objects in
# build/device-build/, which does not travel), with a portable CPU target (x86-64-v3:
# AVX2, no AVX-512, unlike -march=native), and copies every shared library the two
# binaries load, except glibc's own and the CUDA libraries (those come from the GPU
# machine's driver and toolkit), into one compressed archive. The tree that travels is
# limited to 64 MiB, so the bundle must stay under 56 MiB (room for the working tree);
# this prints its size and fails above that.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
trap 'echo "device-bundle: stopped at line $LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
die() { echo "device-bundle: $*" >&2; exit 1; }

OBJ=build/device-build     # objects and static archives: stay here
B=build/device             # what travels: the two binaries and the libraries' archive
MAX_BUNDLE_MIB=56 MAX_TREE_MIB=64

bash tools/setup.sh
make -j"$(nproc)" B="$OBJ" CUDA=1 CPU_ARCH=-march=x86-64-v3 "$OBJ/qlab" "$OBJ/test-gpu" ||
    die "make failed (see above)"

rm -rf "$B"
mkdir -p "$B"
cp "$OBJ/qlab" "$OBJ/test-gpu" "$B/"
stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
for bin in "$B/qlab" "$B/test-gpu"; do
    ldd "$bin" || die "ldd $bin failed"
done | awk '$3 ~ /^\// {print $3}' | sort -u | while read -r lib; do
    case "$(basename "$lib")" in
        libc.so*|libm.so*|libpthread.so*|libdl.so*|librt.so*|libresolv.so*|ld-linux*) ;;
        libcuda.so*|libcudart.so*|libcublas*.so*|libnvidia*) ;;
        libstdc++.so*|libgcc_s.so*) ;;   # every machine with nvcc has newer ones
        *) cp -L "$lib" "$stage/" ;;
    esac
done
tar -C "$stage" -cJf "$B/libs.tar.xz" .

echo "device-bundle: $B holds:"
(cd "$B" && find . -type f -printf '%s\t%P\n' | sort -k2 | awk -F'\t' '{printf "  %8.1f MiB  %s\n", $1 / 1048576, $2}')
echo "  libs.tar.xz: $(tar -tJf "$B/libs.tar.xz" | grep -v '/$' | sed 's|^\./||' | tr '\n' ' ')"
bad=$(find "$B" -type f ! -name qlab ! -name test-gpu ! -name libs.tar.xz -printf '%P ')
[ -z "$bad" ] || die "$B holds more than the binaries and libs.tar.xz: $bad"
bundle=$(du -sb "$B" | cut -f1)
tree=$(git ls-files -co --exclude-standard -z | du --files0-from=- -cb | tail -n 1 | cut -f1)
awk -v b="$bundle" -v t="$tree" -v d="$B" -v lb="$MAX_BUNDLE_MIB" -v lt="$MAX_TREE_MIB" 'BEGIN {
    printf "device-bundle: %s is %.1f MiB (limit %d MiB); with the working tree (%.1f MiB) %.1f of the %d MiB that travel\n",
        d, b / 1048576, lb, t / 1048576, (b + t) / 1048576, lt }'
[ "$bundle" -le $((MAX_BUNDLE_MIB << 20)) ] || die "$B is $((bundle >> 20)) MiB, over $MAX_BUNDLE_MIB MiB"
[ $((bundle + tree)) -le $((MAX_TREE_MIB << 20)) ] || die "$B and the working tree are over $MAX_TREE_MIB MiB"
echo "device-bundle: first call: carry [\"$B\"], timeout_s 540, command:"
echo "  bash tools/gpu-check.sh --prebuilt $B --profile first"
