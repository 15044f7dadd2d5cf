#!/usr/bin/env bash
# device-bundle.sh: builds qlab for a GPU machine that cannot install packages, and
# packs what it needs next to the binaries, so one `run` there does the whole check.
#
#   bash tools/device-bundle.sh    # -> build/device/: qlab, test-gpu, libs.tar.xz, peers.tar.xz
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
#
# peers.tar.xz: bitsandbytes for tools/gpu_peers.py (the GPU machine has torch, not
# bitsandbytes): the wheel pinned with its sha256 in tools/peers-lock.txt, fetched once
# into build/peers-dl/ (pip download --no-deps --require-hashes; reused while its hash
# matches, so no network is needed after the first time), of which only the Python
# package and libbitsandbytes_cuda$QLAB_BNB_CUDA.so (default 130: the GPU machine's
# torch is built for CUDA 13.0) are packed, with the wheel's licence. QLAB_BNB=0 leaves
# it out.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
trap 'echo "device-bundle: stopped at line $LINENO: $BASH_COMMAND (exit $?)" >&2' ERR
die() { echo "device-bundle: $*" >&2; exit 1; }

OBJ=build/device-build     # objects and static archives: stay here
B=build/device             # what travels: the two binaries and the libraries' archive
MAX_BUNDLE_MIB=56 MAX_TREE_MIB=64
DL=build/peers-dl          # the downloaded wheel (git-ignored, never travels)
LOCK=tools/peers-lock.txt
BNB_CUDA=${QLAB_BNB_CUDA:-130}

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

# bitsandbytes for the peers (see the header).
if [ "${QLAB_BNB:-1}" != 0 ]; then
    spec=$(grep -v '^#' "$LOCK" | grep -m1 -E '^bitsandbytes==') || die "$LOCK has no bitsandbytes==VERSION line"
    ver=$(sed -E 's/^bitsandbytes==([^ ]+).*/\1/' <<< "$spec")
    sha=$(sed -nE 's/.*--hash=sha256:([0-9a-f]{64}).*/\1/p' <<< "$spec")
    [ -n "$sha" ] || die "$LOCK: the bitsandbytes line has no --hash=sha256:..."
    whl=""
    for f in "$DL"/bitsandbytes-"$ver"-*.whl; do
        [ -f "$f" ] && [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$sha" ] && whl=$f
    done
    if [ -z "$whl" ]; then
        mkdir -p "$DL"
        python3 -m pip download --no-deps --require-hashes -r "$LOCK" --only-binary=:all: \
            --python-version 3.12 --implementation cp --platform manylinux_2_24_x86_64 -d "$DL" ||
            die "cannot fetch bitsandbytes $ver (pinned in $LOCK) into $DL"
        for f in "$DL"/bitsandbytes-"$ver"-*.whl; do
            [ -f "$f" ] && [ "$(sha256sum < "$f" | cut -d' ' -f1)" = "$sha" ] && whl=$f
        done
        [ -n "$whl" ] || die "no wheel of bitsandbytes $ver with sha256 $sha in $DL after pip download"
    fi
    pst=$(mktemp -d)
    trap 'rm -rf "$stage" "$pst"' EXIT
    python3 -c 'import sys, zipfile; zipfile.ZipFile(sys.argv[1]).extractall(sys.argv[2])' "$whl" "$pst" ||
        die "cannot unpack $whl"
    lib=libbitsandbytes_cuda$BNB_CUDA.so
    [ -f "$pst/bitsandbytes/$lib" ] || die "$whl has no bitsandbytes/$lib (QLAB_BNB_CUDA=$BNB_CUDA)"
    find "$pst/bitsandbytes" -name 'libbitsandbytes_*' ! -name "$lib" -delete
    find "$pst" -name '__pycache__' -prune -exec rm -rf {} +
    mkdir -p "$pst/bitsandbytes-licence"
    cp "$pst"/bitsandbytes-"$ver".dist-info/licenses/LICENSE "$pst/bitsandbytes-licence/" 2>/dev/null || true
    rm -rf "$pst"/bitsandbytes-"$ver".dist-info
    printf 'bitsandbytes %s\nwheel %s\nsha256 %s\nlibrary %s\n' "$ver" "$(basename "$whl")" "$sha" "$lib" \
        > "$pst/bitsandbytes-licence/PINNED"
    tar -C "$pst" -cJf "$B/peers.tar.xz" bitsandbytes bitsandbytes-licence
    echo "device-bundle: peers.tar.xz: bitsandbytes $ver ($(basename "$whl"), sha256 verified) with $lib only"
fi

echo "device-bundle: $B holds:"
(cd "$B" && find . -type f -printf '%s\t%P\n' | sort -k2 | awk -F'\t' '{printf "  %8.1f MiB  %s\n", $1 / 1048576, $2}')
echo "  libs.tar.xz: $(tar -tJf "$B/libs.tar.xz" | grep -v '/$' | sed 's|^\./||' | tr '\n' ' ')"
bad=$(find "$B" -type f ! -name qlab ! -name test-gpu ! -name libs.tar.xz ! -name peers.tar.xz -printf '%P ')
[ -z "$bad" ] || die "$B holds more than the binaries, libs.tar.xz and peers.tar.xz: $bad"
bundle=$(du -sb "$B" | cut -f1)
tree=$(git ls-files -co --exclude-standard -z | du --files0-from=- -cb | tail -n 1 | cut -f1)
awk -v b="$bundle" -v t="$tree" -v d="$B" -v lb="$MAX_BUNDLE_MIB" -v lt="$MAX_TREE_MIB" 'BEGIN {
    printf "device-bundle: %s is %.1f MiB (limit %d MiB); with the working tree (%.1f MiB) %.1f of the %d MiB that travel\n",
        d, b / 1048576, lb, t / 1048576, (b + t) / 1048576, lt }'
[ "$bundle" -le $((MAX_BUNDLE_MIB << 20)) ] || die "$B is $((bundle >> 20)) MiB, over $MAX_BUNDLE_MIB MiB"
[ $((bundle + tree)) -le $((MAX_TREE_MIB << 20)) ] || die "$B and the working tree are over $MAX_TREE_MIB MiB"
echo "device-bundle: first call: carry [\"$B\"], timeout_s 540, command:"
echo "  bash tools/gpu-check.sh --prebuilt $B --profile first"
