#!/usr/bin/env bash
# bench_store.sh: the results store's cost grows linearly with a run (make bench-store).
#
# 1. build/bench-store: 7,280 appends through the results API, the mean cost per point
#    of the first and the last thousand.
# 2. qlab run of experiments/store-scale.yaml (1,456 tiny error-only points, 7
#    thresholds) and of the same sweep with 35 thresholds (7,280 points of the same
#    shapes and cost each): the wall times and their ratio (5.0 for a linear store).
# Environment: QLAB (default build/qlab), BENCH_STORE (default build/bench-store).
set -u
cd "$(dirname "$0")/.." || exit 2
QLAB=${QLAB:-build/qlab}
BENCH=${BENCH_STORE:-build/bench-store}
"$BENCH" || exit 1
T=$(mktemp -d "${TMPDIR:-/tmp}/qlab-bench-store.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
thr7="[0,0.2,0.4,0.6,0.8,1.0,1.2]"
thr35="[$(seq -s, 0 0.2 6.8)]"
timed() {   # timed FILE THRESHOLDS: wall seconds of one run
    local t0 t1
    t0=$(date +%s.%N)
    "$QLAB" run experiments/store-scale.yaml --set "quant.threshold=$2" -o "$1" --no-progress >"$T/log" 2>&1 \
        || { cat "$T/log" >&2; exit 1; }
    t1=$(date +%s.%N)
    echo "$t0 $t1" | awk '{printf "%.2f", $2 - $1}'
}
a=$(timed "$T/small.h5" "$thr7")
b=$(timed "$T/large.h5" "$thr35")
n=$("$QLAB" export "$T/large.h5" | tail -n +2 | wc -l)
echo "bench-store: qlab run of 1,456 points: $a s; of $n points: $b s; ratio $(echo "$a $b" | awk '{printf "%.2f", $2 / $1}') (5.0 is linear)"
