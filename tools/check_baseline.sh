#!/usr/bin/env bash
# check_baseline.sh: the accuracy regression gate of `make test` (and so of CI).
#
# Runs experiments/baseline.yaml with build/qlab into a temporary file and compares it
# with the committed results/baselines/baseline.h5 through `qlab compare`. The cpu
# arithmetic gives the same bits on every x86-64 machine, SIMD width and thread count
# (README "Floating-point model"), so the default tolerances are exact: any change
# that moves an error number or a byte count fails until the baseline is regenerated
# on purpose (`make baseline`, then commit the file). On failure the message says
# whether the sources that compute numbers changed since the baseline (a code change)
# or not (an environment change), and what to do about each. Extra arguments go to
# `qlab compare` (e.g. --markdown).
#
# Exit status: that of qlab compare (0 same or better, 1 worse, 2 unusable input).
# Environment: QLAB (default ./build/qlab), BASELINE (default the committed file).
set -u
cd "$(dirname "$0")/.." || exit 2
QLAB=${QLAB:-./build/qlab}
BASE=${BASELINE:-results/baselines/baseline.h5}
CONFIG=experiments/baseline.yaml

if [ ! -x "$QLAB" ]; then
    echo "check_baseline: $QLAB is not built (make build/qlab)" >&2
    exit 2
fi
if [ ! -f "$BASE" ]; then
    echo "check_baseline: $BASE is missing (make baseline creates it)" >&2
    exit 2
fi
T=$(mktemp -d "${TMPDIR:-/tmp}/qlab-baseline.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT

if ! "$QLAB" run "$CONFIG" -o "$T/new.h5" --no-progress >"$T/run.log" 2>&1; then
    cat "$T/run.log" >&2
    echo "check_baseline: the baseline experiment did not finish cleanly" >&2
    exit 2
fi
"$QLAB" compare "$BASE" "$T/new.h5" "$@" | tee "$T/compare.txt"
rc=${PIPESTATUS[0]}
case $rc in
    0) echo "check_baseline: ok, no regression against $BASE" ;;
    1) if grep -q 'provenance: environment change' "$T/compare.txt"; then
           echo "check_baseline: REGRESSION against $BASE from an ENVIRONMENT change: the same" \
                "sources gave other numbers on this machine (see the provenance line). qlab's cpu" \
                "arithmetic is meant to give the same bits everywhere, so this is a qlab defect:" \
                "report it with both files and 'qlab info'; do not regenerate the baseline to hide it."
       elif grep -q 'provenance: code change' "$T/compare.txt"; then
           echo "check_baseline: REGRESSION against $BASE from a CODE change: the sources that" \
                "compute numbers differ from the baseline's. If the change is meant to move these" \
                "numbers, run 'make baseline', review its report and commit $BASE with the change;" \
                "if not, the change broke them."
       else
           echo "check_baseline: REGRESSION against $BASE, whose run records no source hash" \
                "(an older qlab): regenerate it with 'make baseline' and commit it."
       fi ;;
    *) echo "check_baseline: could not compare with $BASE" ;;
esac
exit $rc
