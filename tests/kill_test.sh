#!/usr/bin/env bash
# kill_test.sh: crash safety of results files, end to end.
#
#   QLAB=build/cpu-only/qlab KILLS=25 bash tests/kill_test.sh
#
# 1. SIGKILL at random moments, KILLS times: during a point's computation, right
#    after a point appears (the progress line of the next point is the signal that
#    the previous append returned), and with an error-only sweep where most of the
#    time goes into writing the file. Each time: the file opens (qlab show, h5dump
#    -H), holds every point reported finished and no more than were started, its rows
#    equal an uninterrupted run's, and --resume (itself killed now and then) completes
#    to the same error numbers as the uninterrupted run, leaving no temporary files.
# 2. SIGINT / SIGTERM: exit 1, the file marked interrupted, resumable.
# 3. A full disk (a small tmpfs; `ulimit -f` where mount is not allowed) and an
#    unwritable directory: exit 2 with a message, the earlier file content intact.
# Prints "kill: N passed, N failed" and exits non-zero on any failure.
set -u
cd "$(dirname "$0")/.."
QLAB=${QLAB:-./build/cpu-only/qlab}
KILLS=${KILLS:-25}
T=$(mktemp -d /tmp/qlab-kill.XXXXXX)
MNT=""
cleanup() {
    [ -n "$MNT" ] && umount "$MNT" 2>/dev/null
    rm -rf "$T"
}
trap cleanup EXIT
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     /' <<<"$2" | head -n 20; }
check() { if eval "$2"; then ok "$1"; else bad "$1" "${3:-}"; fi; }

# Deterministic columns of each row (axes and error metrics), sorted.
errcols() {
    "$QLAB" export "$1" 2>/dev/null | awk -F'\t' 'NR==1{for(i=1;i<=NF;i++) h[i]=$i; next}
        {s=""; for(i=1;i<=NF;i++) if (h[i] ~ /^(id|m|k|n|scheme|x_granularity|w_granularity|threshold|outlier_weights|rel_err|sqnr_db|max_abs_err|cosine|x_rel_err|w_rel_err|outlier_cols|w_bytes|status)$/) s=s $i "\t"; print s}' | sort
}
rows() { "$QLAB" export "$1" 2>/dev/null | tail -n +2 | wc -l; }
# The number of the last "[k/N]" progress line: point k-1 had been appended.
last_started() { grep -o '^\[[0-9]*/' "$1" | tr -d '[/' | tail -n 1; }
rand_ms() { echo $(( RANDOM % ($2 - $1 + 1) + $1 )); }
sleep_ms() { sleep "$(awk -v m="$1" 'BEGIN{printf "%.3f", m/1000}')"; }

CFG=tests/data/tiny.yaml
SLOW="--set timing.min_time_s=0.03 --set timing.timeout_s=0.1"
FAST="--set measure=[error]"
n_points=$("$QLAB" run $CFG --dry-run | tail -n 1 | awk '{print $1}')
"$QLAB" run $CFG $SLOW -o "$T/ref.h5" >/dev/null 2>&1
"$QLAB" run $CFG $FAST -o "$T/ref-fast.h5" >/dev/null 2>&1
check "reference runs hold all $n_points points" \
    '[ "$(rows "$T/ref.h5")" = "$n_points" ] && [ "$(rows "$T/ref-fast.h5")" = "$n_points" ]'
"$QLAB" run $CFG -o "$T/ref-default.h5" >/dev/null 2>&1
REF=$(errcols "$T/ref.h5"); REF_FAST=$(errcols "$T/ref-fast.h5"); REF_DEF=$(errcols "$T/ref-default.h5")

# Waits until the run whose stderr is $1 reports point $2 started (or the process ends).
wait_started() {
    local log=$1 want=$2 pid=$3 i
    for i in $(seq 1 2000); do
        local k; k=$(last_started "$log"); [ -n "$k" ] && [ "$k" -ge "$want" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.005
    done
    return 1
}

# One kill: $1 file, $2 log, $3 pid, $4 reference. Checks the file after the kill.
check_killed() {
    local f=$1 log=$2 ref=$4 tag=$5 base=${6:-0}
    local started; started=$(last_started "$log"); started=${started:-0}
    local finished=$((started > 0 ? started - 1 : 0))
    # a killed resume starts from the rows the file already held
    [ "$finished" -lt "$base" ] && finished=$base
    [ "$started" -lt "$base" ] && started=$base
    if [ ! -e "$f" ]; then
        check "$tag: no file only when no point finished" '[ "$finished" = 0 ]'
        return 1
    fi
    local detail
    detail=$("$QLAB" show "$f" 2>&1) || { bad "$tag: qlab show opens the file" "$detail"; return 1; }
    if command -v h5dump >/dev/null; then
        detail=$(h5dump -H "$f" 2>&1) || { bad "$tag: h5dump -H opens the file" "$detail"; return 1; }
    fi
    local n; n=$(rows "$f")
    if [ "$n" -lt "$finished" ] || [ "$n" -gt "$started" ]; then
        bad "$tag: $finished points reported finished, $started started; the file holds $n"
        return 1
    fi
    # Every row present equals the uninterrupted run's row for that point.
    local extra; extra=$(comm -23 <(errcols "$f") <(echo "$ref"))
    if [ -n "$extra" ]; then bad "$tag: rows differ from the uninterrupted run" "$extra"; return 1; fi
    ok "$tag: file opens, $n rows ($finished reported finished), rows intact"
    return 0
}

# Resumes $1 until complete, killing the first resume when $2 = 1. Then compares.
resume_and_compare() {
    local f=$1 kill_resume=$2 ref=$3 tag=$4 log="$T/resume.log"
    if [ "$kill_resume" = 1 ]; then
        local before; before=$(rows "$f")
        "$QLAB" run --resume "$f" >/dev/null 2>"$log" &
        local pid=$!
        sleep_ms "$(rand_ms 20 400)"
        kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
        check_killed "$f" "$log" $pid "$ref" "$tag (resume killed)" "$before" || return
    fi
    local out st
    out=$("$QLAB" run --resume "$f" 2>&1); st=$?
    # A kill after the last append but before the status was set leaves nothing to run.
    if [ $st != 0 ] && ! grep -q "nothing to resume" <<<"$out"; then
        bad "$tag: --resume exits 0 (got $st)" "$out"; return
    fi
    if [ "$(errcols "$f")" = "$ref" ]; then ok "$tag: resumed file equals the uninterrupted run"
    else bad "$tag: resumed file equals the uninterrupted run" "$(diff <(errcols "$f") <(echo "$ref") | head)"; fi
    local tmps; tmps=$(ls "$T" | grep -F "$(basename "$f").tmp" || true)
    [ -z "$tmps" ] && ok "$tag: no temporary files left" || bad "$tag: temporary files left: $tmps"
}

# ---------------------------------------------------------------------------------
# 1. SIGKILL
kills_ok=0
for i in $(seq 1 "$KILLS"); do
    f="$T/k$i.h5"; log="$T/k$i.log"
    mode=$((i % 3))
    if [ $mode = 2 ]; then opts=$FAST; ref=$REF_FAST; else opts=$SLOW; ref=$REF; fi
    "$QLAB" run $CFG $opts -o "$f" >/dev/null 2>"$log" &
    pid=$!
    case $mode in
        0) sleep_ms "$(rand_ms 30 1500)"; how="random moment" ;;
        1) wait_started "$log" "$(rand_ms 2 "$n_points")" $pid; how="right after a point appeared" ;;
        2) wait_started "$log" "$(rand_ms 1 $((n_points - 2)))" $pid; sleep_ms "$(rand_ms 0 30)"; how="while writing (error-only sweep)" ;;
    esac
    kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
    tag="kill $i ($how)"
    if check_killed "$f" "$log" $pid "$ref" "$tag"; then
        kills_ok=$((kills_ok + 1))
        resume_and_compare "$f" $((i % 4 == 0)) "$ref" "$tag"
    fi
done
echo "kill: $kills_ok of $KILLS SIGKILLs survived"

# ---------------------------------------------------------------------------------
# 2. SIGINT and SIGTERM stop cleanly
for sig in INT TERM INT TERM; do
    f="$T/sig-$sig-$RANDOM.h5"; log="$T/sig.log"
    "$QLAB" run $CFG $SLOW -o "$f" >/dev/null 2>"$log" &
    pid=$!
    wait_started "$log" "$(rand_ms 2 $((n_points - 2)))" $pid
    kill -$sig $pid; wait $pid; st=$?
    check "SIG$sig exits 1" '[ $st = 1 ]' "exit $st; $(tail -n 3 "$log")"
    check "SIG$sig: file marked interrupted" '"$QLAB" show "$f" 2>&1 | grep -q interrupted'
    check "SIG$sig: the message says how to finish" 'grep -q -- "--resume" "$log"'
    resume_and_compare "$f" 0 "$REF" "SIG$sig"
done

# ---------------------------------------------------------------------------------
# 3. Full disk and unwritable directory: exit 2 with a message, earlier content intact.
disk="$T/disk"; mkdir -p "$disk"
if [ -z "${KILL_TEST_NO_MOUNT:-}" ] && mount -t tmpfs -o size=64k tmpfs "$disk" 2>/dev/null; then
    MNT=$disk
    out=$("$QLAB" run $CFG -o "$disk/full.h5" 2>&1); st=$?
    check "64k tmpfs: a results file that cannot be written exits 2" '[ $st = 2 ]' "$out"
    check "64k tmpfs: the message says why" 'grep -qiE "space|write" <<<"$out"' "$out"
    # Room for the first points but not the whole sweep: the run stops at the first
    # write that fails, and the file holds what was appended before.
    umount "$disk"
    mount -t tmpfs -o size=600k tmpfs "$disk"
    out=$("$QLAB" run $CFG -o "$disk/full.h5" 2>&1); st=$?
    n=$(rows "$disk/full.h5")
    check "600k tmpfs: the run stops with exit 2" '[ $st = 2 ]' "$out"
    check "600k tmpfs: the message names the problem" 'grep -qiE "no space|space left" <<<"$out"' "$out"
    check "600k tmpfs: the file opens and keeps its $n finished points" \
        '"$QLAB" show "$disk/full.h5" >/dev/null 2>&1 && [ "$n" -gt 0 ] && [ -z "$(comm -23 <(errcols "$disk/full.h5") <(echo "$REF_DEF"))" ]'
    check "600k tmpfs: no temporary file left behind" '[ -z "$(ls "$disk" | grep tmp)" ]' "$(ls -la "$disk")"
    # Moved to a disk with room, the run resumes to the uninterrupted result.
    cp "$disk/full.h5" "$T/moved.h5"
    resume_and_compare "$T/moved.h5" 0 "$REF_DEF" "full disk, moved"
    # A read-only directory (root ignores permission bits, so remount read-only).
    mount -o remount,ro "$disk"
    sum=$(md5sum < "$disk/full.h5")
    out=$("$QLAB" run $CFG -o "$disk/new.h5" 2>&1); st=$?
    check "read-only directory: exit 2 before any point runs" '[ $st = 2 ] && ! grep -q "^\[1/" <<<"$out"' "$out"
    check "read-only directory: the message names the path" 'grep -q "$disk" <<<"$out"' "$out"
    out=$("$QLAB" run --resume "$disk/full.h5" 2>&1); st=$?
    check "read-only directory: --resume exits 2" '[ $st = 2 ]' "$out"
    check "read-only directory: the file is untouched" '[ "$(md5sum < "$disk/full.h5")" = "$sum" ]'
    umount "$disk"; MNT=""
else
    # No mount (not root, or a container without the capability): a file-size limit
    # makes writes fail with EFBIG; SIGXFSZ is ignored so the write error is seen.
    out=$(trap '' XFSZ; ulimit -f 200; "$QLAB" run $CFG -o "$disk/full.h5" 2>&1); st=$?
    check "file-size limit: the run stops with exit 2" '[ $st = 2 ]' "$out"
    check "file-size limit: the file opens and keeps its finished points" \
        '"$QLAB" show "$disk/full.h5" >/dev/null 2>&1'
    mkdir -p "$T/ro"; chmod 555 "$T/ro"
    if [ "$(id -u)" != 0 ]; then
        out=$("$QLAB" run $CFG -o "$T/ro/x.h5" 2>&1); st=$?
        check "unwritable directory: exit 2 before any point runs" '[ $st = 2 ]' "$out"
    fi
fi
out=$("$QLAB" run $CFG -o /proc/qlab-none/x.h5 2>&1); st=$?
check "missing directory: exit 2 with the path named" '[ $st = 2 ] && grep -q /proc/qlab-none <<<"$out"' "$out"

echo "kill: $pass passed, $fail failed"
[ "$fail" = 0 ]
