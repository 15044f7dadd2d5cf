#!/usr/bin/env bash
# submit.sh: a qlab sweep on a Slurm cluster: a job array of N shards, then a merge
# job that runs once every shard is complete (--dependency=afterok).
#
#   tools/slurm/submit.sh CONFIG RUNDIR N [qlab run options...]
#
# Prints "array JOBID" and "merge JOBID". Shard files go to RUNDIR/shard-I-of-N.h5,
# the merged file to RUNDIR/merged.h5, job logs to RUNDIR/logs/. Submitting again
# with the same RUNDIR and N resumes unfinished shards and skips complete ones.
# Environment:
#   QLAB          qlab binary (default: build/qlab here if present, else qlab on PATH)
#   QLAB_GRES     GRES per shard task (default gpu:1; empty: no --gres, CPU sweeps)
#   SBATCH_ARGS   extra sbatch options for both jobs (--partition=..., --time=...)
#   SHARD_ARGS    extra sbatch options for the array only (--cpus-per-task=8, ...)
set -eu
if [ $# -lt 3 ]; then
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
fi
here=$(cd "$(dirname "$0")" && pwd)
config=$(realpath "$1"); rundir=$(realpath -m "$2"); n=$3; shift 3
case $n in ''|*[!0-9]*) echo "submit.sh: N must be a positive integer (got '$n')" >&2; exit 2 ;; esac
[ "$n" -ge 1 ] || { echo "submit.sh: N must be at least 1" >&2; exit 2; }
[ -r "$config" ] || { echo "submit.sh: cannot read $config" >&2; exit 2; }
if [ -z "${QLAB:-}" ]; then
    if [ -x build/qlab ]; then QLAB=$(realpath build/qlab); else QLAB=$(command -v qlab || true); fi
fi
[ -n "$QLAB" ] && [ -x "$QLAB" ] || { echo "submit.sh: no qlab binary (set QLAB)" >&2; exit 2; }
export QLAB
# Check the config here, before anything is queued.
"$QLAB" run "$config" "$@" --dry-run >/dev/null || exit 2
mkdir -p "$rundir/logs"
gres_opt=()
gres=${QLAB_GRES-gpu:1}
[ -n "$gres" ] && gres_opt=(--gres="$gres")
# Without a GRES the #SBATCH --gres line would still ask for a GPU: drop it.
script=$here/qlab-array.sbatch
if [ -z "$gres" ]; then
    script=$rundir/logs/qlab-array.sbatch
    grep -v '^#SBATCH --gres' "$here/qlab-array.sbatch" > "$script"
fi
array=$(sbatch --parsable --array=0-$((n - 1)) "${gres_opt[@]}" ${SBATCH_ARGS:-} ${SHARD_ARGS:-} \
        --output="$rundir/logs/shard-%a.out" --export=ALL "$script" "$config" "$rundir" "$@")
array=${array%%;*}
merge=$(sbatch --parsable --dependency=afterok:"$array" --kill-on-invalid-dep=yes ${SBATCH_ARGS:-} \
        --output="$rundir/logs/merge.out" --export=ALL "$here/qlab-merge.sbatch" "$rundir" "$n")
merge=${merge%%;*}
echo "array $array"
echo "merge $merge"
