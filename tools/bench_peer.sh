#!/usr/bin/env bash
# bench_peer.sh: qlab against its numpy peer on the default experiment's error sweep
# (make bench-cpu runs it after the GEMM benchmark).
#
# Times `qlab run experiments/default.yaml --set 'measure=[error]'` (37 points, 256 x
# 1024 x 1024) and tools/numpy_peer.py (the same points and metrics in vectorized
# numpy), best of REPEAT runs each, interleaved so that other load on the machine
# biases both alike, and prints both times, their ratio (numpy / qlab: above 1 means
# qlab is faster) and both peak resident sets.
# Environment: QLAB (default build/qlab), PYTHON (default /usr/bin/python3), REPEAT (3).
set -u
cd "$(dirname "$0")/.." || exit 2
QLAB=${QLAB:-build/qlab}
PY=${PYTHON:-/usr/bin/python3}
REPEAT=${REPEAT:-3}
T=$(mktemp -d "${TMPDIR:-/tmp}/qlab-bench-peer.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
"$PY" -c 'import numpy' 2>/dev/null || { echo "bench_peer: numpy missing for $PY (apt-get install python3-numpy)"; exit 2; }
best_q="" best_n="" rss_q=0 rss_n=0
for ((i = 1; i <= REPEAT; i++)); do
    rm -f "$T/e.h5"
    /usr/bin/time -f "%e %M" -o "$T/tq" "$QLAB" run experiments/default.yaml --set 'measure=[error]' \
        -o "$T/e.h5" --no-progress >"$T/log" 2>&1 || { cat "$T/log"; exit 1; }
    read -r tq mq <"$T/tq"
    /usr/bin/time -f "%e %M" -o "$T/tn" "$PY" tools/numpy_peer.py --repeat 1 >"$T/nlog" 2>&1 \
        || { cat "$T/nlog"; exit 1; }
    read -r tn mn <"$T/tn"
    best_q=$(awk -v a="$tq" -v b="$best_q" 'BEGIN{print (b == "" || a < b) ? a : b}')
    best_n=$(awk -v a="$tn" -v b="$best_n" 'BEGIN{print (b == "" || a < b) ? a : b}')
    rss_q=$mq rss_n=$mn
done
echo "bench-peer: default error sweep (37 points, 256x1024x1024), best of $REPEAT, whole processes:"
echo "  qlab  $best_q s  peak RSS $((rss_q / 1024)) MB"
echo "  numpy $best_n s  peak RSS $((rss_n / 1024)) MB  ($PY, numpy $("$PY" -c 'import numpy; print(numpy.__version__)'))"
awk -v q="$best_q" -v n="$best_n" 'BEGIN{printf "  numpy / qlab = %.2f (above 1: qlab faster)\n", n / q}'
