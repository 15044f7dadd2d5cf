#!/usr/bin/env bash
# gpu-check.sh: the GPU acceptance run of the cuda backend, on a machine with a GPU.
#
#   bash tools/gpu-check.sh                        # builds here (needs the Debian packages)
#   bash tools/gpu-check.sh --prebuilt build/device  # uses tools/device-bundle.sh's build
#
# Builds everything (make), runs the GPU tests (build/test-gpu: kernels against quant/,
# bit for bit where integer), then the timing experiments on the cuda backend:
#   experiments/latency.yaml     -> results/gpu/<device>/latency.h5
#   experiments/gemm-shapes.yaml -> results/gpu/<device>/gemm-shapes.h5
#   experiments/gpu-schemes.yaml -> results/gpu/<device>/gpu-schemes.h5 (fp8, 4-bit)
# and writes results/gpu/<device>/summary.md with the device, the test outcome and
# `qlab show` of each file. <device> is the GPU name as a slug (nvidia-h100-80gb-hbm3).
# With $OUT set (a lent machine whose $OUT comes back), everything is written under
# $OUT/results/gpu/<device>/ as it is made, so a call cut off at its time limit still
# returns the logs and every finished file.
#
# Knobs for a short device session (environment):
#   QLAB_GPU_EXPERIMENTS="latency"   which experiments (default: all three)
#   QLAB_GPU_SETS="timing.timeout_s=1 timing.max_noise=0.03"   --set for every run
#   QLAB_GPU_SKIP_TESTS=1            skip test-gpu (it passed in an earlier call)
#   QLAB_GPU_SANITIZE=1              also run the kernel tests under compute-sanitizer
#   QLAB_GPU_RUN_TIMEOUT=500         seconds per experiment; then SIGTERM (qlab keeps
#                                    every finished point and marks the file interrupted)
# A failed test is recorded and the experiments still run (their timings are wanted
# either way); the script exits 1 at the end. It also fails loudly when no GPU is
# usable: a GPU check that silently ran on the CPU would be worse than none.
set -euo pipefail
cd "$(dirname "$0")/.."

die() { echo "gpu-check: $*" >&2; exit 1; }

command -v nvidia-smi >/dev/null 2>&1 || die "nvidia-smi not found: this machine has no NVIDIA driver, so no GPU to check"
name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>/dev/null | head -n 1) \
    || die "nvidia-smi cannot query a GPU"
[ -n "$name" ] || die "nvidia-smi lists no GPU"
slug=$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9]\+/-/g' -e 's/^-//' -e 's/-$//')
out="${OUT:+$OUT/}results/gpu/$slug"
mkdir -p "$out"
echo "gpu-check: device '$name' -> $out"
# What the machine is, first: a mismatch of driver and toolkit shows here, not as a
# loader error later.
nvidia-smi --query-gpu=name,driver_version,compute_cap,clocks.max.sm,memory.total --format=csv || true
command -v nvcc >/dev/null 2>&1 && nvcc --version | tail -n 1

# --prebuilt DIR: binaries and libraries packed by tools/device-bundle.sh on a machine
# with the packages, for a GPU machine that has none of them and cannot fetch them.
BIN=build
if [ "${1:-}" = "--prebuilt" ]; then
    BIN=${2:?--prebuilt needs the directory made by tools/device-bundle.sh}
    [ -f "$BIN/libs.tar.xz" ] || die "$BIN/libs.tar.xz missing: run tools/device-bundle.sh first"
    libs=$(mktemp -d /tmp/qlab-libs.XXXXXX)
    tar -C "$libs" -xJf "$BIN/libs.tar.xz"
    # cuBLASLt and the CUDA runtime come from this machine's toolkit (or its pip wheels).
    cuda_dirs=$(find /usr/local /usr/lib /opt \( -name 'libcublasLt.so.13' -o -name 'libcudart.so.13' \) \
                -printf '%h\n' 2>/dev/null | sort -u | tr '\n' ':')
    export LD_LIBRARY_PATH="$libs:${cuda_dirs%:}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    echo "gpu-check: prebuilt binaries from $BIN, libraries from $libs and ${cuda_dirs:-nowhere}"
else
    make -j"$(nproc)"
fi
[ -x "$BIN/test-gpu" ] || die "$BIN/test-gpu was not built (is nvcc on PATH or in /usr/local/cuda?)"
for b in "$BIN/test-gpu" "$BIN/qlab"; do
    missing=$(ldd "$b" | grep 'not found' || true)
    [ -z "$missing" ] || die "$b cannot load: $missing"
done

failed=""
test_log="$out/test-gpu.log"
if [ "${QLAB_GPU_SKIP_TESTS:-0}" != 1 ]; then
    # One test process at a time (they share the one GPU), none longer than 120 s.
    # The tests skip without a usable device; here a skip is a failure.
    set +e
    "$BIN/test-gpu" --verbose --jobs 1 --timeout 120 2>&1 | tee "$test_log"
    test_rc=${PIPESTATUS[0]}
    set -e
    if grep -q '^\[SKIP\]' "$test_log"; then
        die "GPU tests skipped: $(grep -m1 '^\[SKIP\]' "$test_log")"
    fi
    [ "$test_rc" -eq 0 ] || failed="$failed test-gpu(exit $test_rc, see $test_log)"
    if [ "${QLAB_GPU_SANITIZE:-0}" = 1 ]; then
        if command -v compute-sanitizer >/dev/null 2>&1; then
            rc=0
            compute-sanitizer --error-exitcode 9 --target-processes all \
                "$BIN/test-gpu" --jobs 1 --timeout 300 > "$out/sanitizer.log" 2>&1 || rc=$?
            tail -n 5 "$out/sanitizer.log"
            [ "$rc" -eq 0 ] || failed="$failed compute-sanitizer(exit $rc, see $out/sanitizer.log)"
        else
            failed="$failed compute-sanitizer(not installed)"
        fi
    fi
else
    echo "gpu-check: test-gpu skipped (QLAB_GPU_SKIP_TESTS=1)" | tee "$test_log"
fi

stamp=$(date -u +%Y%m%dT%H%M%SZ)
# QLAB_GPU_EXPERIMENTS narrows the list (a short device session can run one at a time).
EXPERIMENTS=${QLAB_GPU_EXPERIMENTS:-latency gemm-shapes gpu-schemes}
sets=()
for kv in ${QLAB_GPU_SETS:-}; do sets+=(--set "$kv"); done
for exp in $EXPERIMENTS; do
    f="$out/$exp.h5"
    # qlab never overwrites a results file: keep the previous run under its time stamp.
    [ -e "$f" ] && mv "$f" "$out/$exp-before-$stamp.h5"
    # Exit 1 means some points failed: keep going so the summary shows which.
    rc=0
    timeout "${QLAB_GPU_RUN_TIMEOUT:-500}" \
        "$BIN/qlab" run "experiments/$exp.yaml" --backend cuda "${sets[@]}" -o "$f" --no-progress || rc=$?
    [ "$rc" -eq 0 ] || failed="$failed $exp(exit $rc)"
    [ -e "$f" ] || failed="$failed $exp(no results file)"
done

{
    echo "# GPU check: $name"
    echo
    echo "- date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
    echo "- git commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
    echo "- nvidia-smi: $(nvidia-smi --query-gpu=driver_version,clocks.sm,clocks.max.sm,memory.total --format=csv,noheader | head -n 1)"
    echo "- GPU tests: $(grep -m1 -E 'Synthesis|skipped' "$test_log" || echo 'see test-gpu.log')"
    [ -z "${QLAB_GPU_SETS:-}" ] || echo "- settings changed for this run: ${QLAB_GPU_SETS}"
    echo
    for exp in $EXPERIMENTS; do
        echo "## $exp"
        echo
        echo '```'
        "$BIN/qlab" show "$out/$exp.h5" || true
        echo '```'
        echo
    done
    echo "Stage samples (quantize_x, gemm_i8 / gemm_fp8 / gemm_fp8_as_fp16, outlier_gemm, dequant,"
    echo "dequant_w, gemm_f16, dequant_scales, gemv_4bit, fp16_gemm, bf16_gemm) are"
    echo "in each file's /samples: \`build/qlab export FILE --table samples\`."
} > "$out/summary.md"
echo "gpu-check: wrote $out/summary.md"
[ -z "$failed" ] || die "failed:$failed (see $out/summary.md)"
