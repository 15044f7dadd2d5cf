#!/usr/bin/env bash
# bench_verdicts.sh: do qlab's timing verdicts cry wolf? (make bench-verdicts)
#
# Runs experiments/verdict-timing.yaml PAIRS times in pairs (default 10 pairs, about a
# minute on 2 cores) with unchanged code and compares each pair: every time_us verdict
# WORSE or BETTER is a false alarm. Then, in each first run of a pair, compares the
# points at k = 256 with those at k = 512 (`--ab k=256,512`: twice the work, all other
# axes equal) and counts the points found WORSE on time: a real slowdown of 1.6-1.9x
# that must be caught. Prints both counts and every compare's summary line; exits 1 if
# a false alarm was raised or a slowdown missed.
#
# Environment: QLAB (default build/qlab), PAIRS (default 10).
set -u
cd "$(dirname "$0")/.." || exit 2
QLAB=${QLAB:-build/qlab}
PAIRS=${PAIRS:-10}
T=$(mktemp -d "${TMPDIR:-/tmp}/qlab-bench-verdicts.XXXXXX") || exit 2
trap 'rm -rf "$T"' EXIT
false_alarms=0 uncertain=0 caught=0 slow_points=0
for ((p = 1; p <= PAIRS; p++)); do
    for s in a b; do
        if ! "$QLAB" run experiments/verdict-timing.yaml -o "$T/$p$s.h5" --no-progress >"$T/log" 2>&1; then
            cat "$T/log"; exit 2
        fi
    done
    out=$("$QLAB" compare "$T/${p}a.h5" "$T/${p}b.h5")
    fa=$(grep -cE 'time_us .*(WORSE|BETTER)' <<<"$out")
    un=$(grep -cE 'time_us .*UNCERTAIN' <<<"$out")
    false_alarms=$((false_alarms + fa)); uncertain=$((uncertain + un))
    printf 'pair %2d  identical runs: %s\n' "$p" "$(tail -n 1 <<<"$out")"
    grep -E 'time_us .*(WORSE|BETTER|UNCERTAIN)' <<<"$out" | sed 's/^/           /' 
    ab=$("$QLAB" compare "$T/${p}a.h5" --ab k=256,512)
    c=$(grep -cE 'time_us .*WORSE' <<<"$ab")
    n=$(grep -oE '^compare: [0-9]+ points matched' <<<"$ab" | grep -oE '[0-9]+')
    caught=$((caught + c)); slow_points=$((slow_points + n))
    printf '         k=256 vs k=512: %s of %s points WORSE on time\n' "$c" "$n"
done
echo "bench-verdicts: $PAIRS pairs of identical runs: $false_alarms timing verdicts WORSE or BETTER" \
     "(false alarms), $uncertain UNCERTAIN"
echo "bench-verdicts: 2x heavier shape: $caught of $slow_points points WORSE on time"
[ "$false_alarms" = 0 ] && [ "$caught" = "$slow_points" ]
