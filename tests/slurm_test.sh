#!/usr/bin/env bash
# slurm_test.sh: tools/slurm/ on a real single-node Slurm cluster on this machine.
#
#   QLAB=build/cpu-only/qlab bash tests/slurm_test.sh       (root; installs packages)
#
# Installs Debian's slurm-wlm and munge when missing, starts munged (if no munge
# daemon answers), slurmctld and slurmd on localhost with a private slurm.conf (no
# GRES: the sweep runs on the CPU), and submits a small sweep with
# tools/slurm/submit.sh as an array of 4 shard tasks plus the dependent merge job.
# One shard file is left half-done beforehand (a SIGTERM'd run), so its task must
# resume it. The merged file must equal an unsharded run in every deterministic
# column. The daemons this script started are always stopped; the whole test is
# bounded by SLURM_TEST_TIMEOUT seconds (default 180). Prints "slurm: N passed,
# N failed" and exits non-zero on failure.
set -u
cd "$(dirname "$0")/.."
ROOT=$(pwd)
QLAB=$(realpath "${QLAB:-build/cpu-only/qlab}")
LIMIT=${SLURM_TEST_TIMEOUT:-180}
START=$(date +%s)
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     /' <<<"$2" | head -n 30; }
finish() { echo "slurm: $pass passed, $fail failed"; [ "$fail" = 0 ]; exit $?; }

if [ ! -x "$QLAB" ]; then bad "qlab binary $QLAB exists (build it first)"; finish; fi

# ---------------------------------------------------------------------------------
# Packages
if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v munged >/dev/null; then
    if [ "$(id -u)" != 0 ]; then bad "slurm-wlm and munge are installed (not root: cannot install)"; finish; fi
    echo "slurm: installing slurm-wlm and munge"
    export DEBIAN_FRONTEND=noninteractive
    if ! { apt-get update -qq && apt-get install -y -qq slurm-wlm munge; } >/tmp/qlab-slurm-apt.log 2>&1; then
        bad "apt-get install slurm-wlm munge" "$(tail -n 20 /tmp/qlab-slurm-apt.log)"; finish
    fi
fi

D=$(mktemp -d /tmp/qlab-slurm.XXXXXX)
chmod 755 "$D"
PIDS=()
cleanup() {
    local p
    # jobs of this cluster still queued or running end before the daemons do
    if [ -n "${SLURM_CONF:-}" ] && [ -n "$(squeue -h 2>/dev/null)" ]; then
        scancel --quiet $(squeue -h -o %A 2>/dev/null) 2>/dev/null
        for _ in $(seq 1 20); do [ -z "$(squeue -h 2>/dev/null)" ] && break; sleep 0.5; done
    fi
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    for p in "${PIDS[@]}"; do
        for _ in 1 2 3 4 5 6 7 8 9 10; do kill -0 "$p" 2>/dev/null || break; sleep 0.3; done
        kill -9 "$p" 2>/dev/null
    done
    [ -n "${KEEP:-}" ] || rm -rf "$D"
}
trap cleanup EXIT
trap 'echo "slurm: interrupted"; exit 1' INT TERM

# ---------------------------------------------------------------------------------
# munge: use a running daemon if one answers, else start our own.
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    mkdir -p /run/munge /var/log/munge /var/lib/munge /etc/munge
    if [ ! -s /etc/munge/munge.key ]; then
        dd if=/dev/urandom of=/etc/munge/munge.key bs=1024 count=1 2>/dev/null
    fi
    chown -R munge:munge /run/munge /var/log/munge /var/lib/munge /etc/munge 2>/dev/null
    chmod 700 /etc/munge; chmod 400 /etc/munge/munge.key
    runuser -u munge -- munged --foreground >"$D/munged.log" 2>&1 &
    PIDS+=($!)
    for _ in $(seq 1 50); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.1; done
fi
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then ok "munge answers"
else bad "munge answers" "$(cat "$D/munged.log" 2>/dev/null)"; finish; fi

# ---------------------------------------------------------------------------------
# A one-node cluster on 127.0.0.1, private ports and directories.
host=$(hostname -s)
cpus=$(nproc)
mem=$(awk '/MemTotal/ {print int($2 / 1024 / 2)}' /proc/meminfo)
port=$((20000 + RANDOM % 20000))
mkdir -p "$D/state" "$D/spool"
cat > "$D/slurm.conf" <<CONF
ClusterName=qlabtest
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=$port
SlurmdPort=$((port + 1))
AuthType=auth/munge
SlurmUser=root
SlurmdUser=root
StateSaveLocation=$D/state
SlurmdSpoolDir=$D/spool
SlurmctldPidFile=$D/slurmctld.pid
SlurmdPidFile=$D/slurmd.pid
SlurmctldLogFile=$D/slurmctld.log
SlurmdLogFile=$D/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmctldTimeout=30
SlurmdTimeout=30
InactiveLimit=0
MinJobAge=300
KillWait=5
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$mem State=UNKNOWN
PartitionName=test Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
export SLURM_CONF=$D/slurm.conf
slurmctld -D -f "$SLURM_CONF" >"$D/slurmctld.out" 2>&1 &
PIDS+=($!)
slurmd -D -f "$SLURM_CONF" -N "$host" >"$D/slurmd.out" 2>&1 &
PIDS+=($!)
up=0
for _ in $(seq 1 60); do
    state=$(sinfo -h -N -o '%t' 2>/dev/null | head -n 1)
    case $state in idle*|mix*|alloc*) up=1; break ;; esac
    sleep 0.5
done
if [ $up = 1 ]; then ok "slurmctld and slurmd up, node $host idle"
else bad "slurmctld and slurmd up" "$(tail -n 15 "$D/slurmctld.log" "$D/slurmd.log" "$D/slurmctld.out" "$D/slurmd.out" 2>&1)"; finish; fi

# ---------------------------------------------------------------------------------
# The sweep: tiny.yaml with timing slow enough that a shard can be interrupted.
cfg=$D/sweep.yaml
sed 's/timeout_s: 0.05/timeout_s: 0.1/; s/min_time_s: 0.0/min_time_s: 0.03/' tests/data/tiny.yaml > "$cfg"
run=$D/run
mkdir -p "$run"
"$QLAB" run "$cfg" -o "$D/whole.h5" --no-progress >/dev/null 2>&1 \
    && ok "unsharded reference run" || bad "unsharded reference run"

# Shard 2 of 4 started before and stopped (as by preemption): its task must resume it.
"$QLAB" run "$cfg" --shard 2/4 -o "$run/shard-2-of-4.h5" >/dev/null 2>"$D/pre.log" &
pid=$!
for _ in $(seq 1 400); do grep -q '^\[2/' "$D/pre.log" && break; kill -0 $pid 2>/dev/null || break; sleep 0.01; done
kill -TERM $pid 2>/dev/null; wait $pid
pre_rows=$("$QLAB" export "$run/shard-2-of-4.h5" 2>/dev/null | tail -n +2 | wc -l)
if "$QLAB" show "$run/shard-2-of-4.h5" 2>/dev/null | grep -q "status: interrupted"; then
    ok "shard 2 left interrupted with $pre_rows points"
else bad "shard 2 left interrupted" "$(cat "$D/pre.log")"; fi

out=$(cd "$D" && QLAB=$QLAB QLAB_GRES= SHARD_ARGS=--cpus-per-task=1 "$ROOT/tools/slurm/submit.sh" "$cfg" "$run" 4 2>&1); st=$?
array=$(awk '$1 == "array" {print $2}' <<<"$out"); merge=$(awk '$1 == "merge" {print $2}' <<<"$out")
if [ $st = 0 ] && [ -n "$array" ] && [ -n "$merge" ]; then ok "submit.sh prints the job ids (array $array, merge $merge)"
else bad "submit.sh submits" "$out"; finish; fi
deps=$(scontrol show job "$merge" 2>/dev/null | grep -o 'Dependency=[^ ]*')
grep -q "afterok:$array" <<<"$deps" && ok "merge job depends on the array ($deps)" \
    || bad "merge job depends on the array" "$deps"

# Wait for both jobs to leave the queue.
done_=0
while [ $(( $(date +%s) - START )) -lt "$LIMIT" ]; do
    if [ -z "$(squeue -h -j "$array,$merge" 2>/dev/null)" ]; then done_=1; break; fi
    sleep 1
done
if [ $done_ = 1 ]; then ok "array and merge finished in $(( $(date +%s) - START )) s"
else bad "array and merge finished within ${LIMIT} s" "$(squeue 2>&1; tail -n 5 "$run"/logs/* 2>&1)"; fi

for i in 0 1 2 3; do
    f=$run/shard-$i-of-4.h5
    if "$QLAB" show "$f" 2>/dev/null | grep -q "status: complete"; then ok "shard $i complete"
    else bad "shard $i complete" "$(cat "$run/logs/shard-$i.out" 2>&1)"; fi
done
grep -q "resuming" "$run/logs/shard-2.out" 2>/dev/null && ok "task 2 resumed the existing shard file" \
    || bad "task 2 resumed the existing shard file" "$(cat "$run/logs/shard-2.out" 2>&1)"

# Deterministic columns: axes and error metrics, sorted by point.
errcols() {
    "$QLAB" export "$1" 2>/dev/null | awk -F'\t' 'NR==1{for(i=1;i<=NF;i++) h[i]=$i; next}
        {s=""; for(i=1;i<=NF;i++) if (h[i] ~ /^(id|workload|m|k|n|scheme|x_granularity|w_granularity|block|threshold|outlier_weights|rel_err|sqnr_db|max_abs_err|cosine|outlier_cols|w_bytes|status)$/) s=s $i "\t"; print s}' | sort -n
}
if [ -s "$run/merged.h5" ]; then
    ok "merge job wrote merged.h5"
    a=$(errcols "$run/merged.h5"); b=$(errcols "$D/whole.h5")
    n=$(wc -l <<<"$b")
    if [ -n "$a" ] && [ "$a" = "$b" ]; then ok "merged file equals the unsharded run ($n points, error columns identical)"
    else bad "merged file equals the unsharded run" "$(diff <(echo "$a") <(echo "$b") | head -n 20)"; fi
else
    bad "merge job wrote merged.h5" "$(cat "$run/logs/merge.out" 2>&1)"
fi

# Submitting again with the same run directory: every task finds its file complete.
rm -f "$run/merged.h5"
out=$(cd "$D" && QLAB=$QLAB QLAB_GRES= SHARD_ARGS=--cpus-per-task=1 "$ROOT/tools/slurm/submit.sh" "$cfg" "$run" 4 2>&1)
array=$(awk '$1 == "array" {print $2}' <<<"$out"); merge=$(awk '$1 == "merge" {print $2}' <<<"$out")
while [ -n "$array" ] && [ $(( $(date +%s) - START )) -lt "$LIMIT" ] && [ -n "$(squeue -h -j "$array,$merge" 2>/dev/null)" ]; do sleep 1; done
if grep -q "is complete; nothing to do" "$run/logs/shard-0.out" && [ -s "$run/merged.h5" ] \
   && [ "$(errcols "$run/merged.h5")" = "$(errcols "$D/whole.h5")" ]; then
    ok "resubmission skips complete shards and merges again"
else bad "resubmission skips complete shards and merges again" "$out"; fi

finish
