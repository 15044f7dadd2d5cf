#!/usr/bin/env bash
# check_baseline.sh: the accuracy regression gate of `make test` (and so of CI).
#
# Runs experiments/baseline.yaml with build/qlab into a temporary file and compares it
# with the committed results/baselines/baseline.h5 through `qlab compare`. On the cpu
# backend the default tolerances are exact, so any change that moves an error number
# or a byte count fails until the baseline is regenerated on purpose (`make baseline`,
# then commit the file). Extra arguments go to `qlab compare` (e.g. --markdown, or
# --rtol rel_err=1e-12 on a machine whose BLAS sums in another order).
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
"$QLAB" compare "$BASE" "$T/new.h5" "$@"
rc=$?
case $rc in
    0) echo "check_baseline: ok, no regression against $BASE" ;;
    1) echo "check_baseline: REGRESSION against $BASE. If the change is intended, run" \
            "'make baseline', review its report and commit $BASE." ;;
    *) echo "check_baseline: could not compare with $BASE" ;;
esac
exit $rc
