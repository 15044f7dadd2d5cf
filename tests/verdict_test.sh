#!/usr/bin/env bash
# verdict_test.sh: the same code gives the same verdict on any machine (part of
# `make test`).
#
# Runs experiments/baseline.yaml under three OpenBLAS core types crossed with 1 and 2
# OpenMP threads, and once more from a build for the baseline x86-64 instruction set
# (SSE2 only: another SIMD width than this machine's native build), then compares
# every run with every other: each compare must say 0 worse, 0 better and exit 0.
# OpenBLAS no longer computes any number qlab reports (quant/gemm.c does, in one
# fixed order), so this guards that no BLAS call, thread-count-dependent reduction or
# width-dependent vector code comes back.
#
# Environment: QLAB (default build/qlab). Exit 0 when every pair agrees.
set -u
cd "$(dirname "$0")/.." || exit 2
QLAB=${QLAB:-build/qlab}
T=$(mktemp -d "${TMPDIR:-/tmp}/qlab-verdict.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
fail=0
runs=()
for core in Prescott Haswell SkylakeX; do
    for threads in 1 2; do
        f="$T/$core-$threads.h5"
        if ! OPENBLAS_CORETYPE=$core OMP_NUM_THREADS=$threads OPENBLAS_NUM_THREADS=$threads \
             "$QLAB" run experiments/baseline.yaml -o "$f" --no-progress >"$T/log" 2>&1; then
            cat "$T/log"; echo "verdict_test: FAIL: run under $core, $threads threads"; exit 1
        fi
        runs+=("$f")
    done
done
# The portable build: its own build directory, CPU only, -march=x86-64.
if ! make --no-print-directory -j"$(nproc)" B=build/x86-64 CUDA=0 CPU_ARCH=-march=x86-64 \
        build/x86-64/qlab >"$T/build.log" 2>&1; then
    tail -n 30 "$T/build.log"; echo "verdict_test: FAIL: the -march=x86-64 build"; exit 1
fi
if ! build/x86-64/qlab run experiments/baseline.yaml -o "$T/x86-64.h5" --no-progress >"$T/log" 2>&1; then
    cat "$T/log"; echo "verdict_test: FAIL: run of the -march=x86-64 build"; exit 1
fi
runs+=("$T/x86-64.h5")
pairs=0
for ((i = 0; i < ${#runs[@]}; i++)); do
    for ((j = i + 1; j < ${#runs[@]}; j++)); do
        a=${runs[$i]} b=${runs[$j]}
        out=$("$QLAB" compare "$a" "$b" 2>&1); rc=$?
        pairs=$((pairs + 1))
        if [ $rc -ne 0 ] || ! grep -q ' 0 worse, 0 better,' <<<"$out"; then
            echo "$out" | tail -n 20
            echo "verdict_test: FAIL: $(basename "$a") vs $(basename "$b") (exit $rc)"
            fail=1
        fi
    done
done
[ $fail = 0 ] && echo "verdict_test: ok, $pairs pairs of ${#runs[@]} runs (3 OpenBLAS core types x 1, 2 threads; -march=x86-64 build): 0 worse, 0 better"
exit $fail
