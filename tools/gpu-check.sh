#!/usr/bin/env bash
# gpu-check.sh: the GPU acceptance run of the cuda backend, on a machine with a GPU.
#
#   bash tools/gpu-check.sh [--profile first|rest] [--prebuilt DIR]
#   bash tools/gpu-check.sh --rehearse [--profile first|rest] [--prebuilt DIR]
#
# A lent GPU machine gives about 15 minutes in all, one command at most 10, and returns
# at most 8 files from $OUT (16 MiB each, 64 MiB together, at most two folders down,
# names of letters, digits, '.', '_', '-'). So the work comes in two profiles, each one
# call, each bounded by a budget (QLAB_GPU_BUDGET_S, default 450 s) and every qlab run
# by `timeout -k 10`:
#   first (default)  build/test-gpu (the kernels against quant/; a skip is a failure),
#                    experiments/gpu-first.yaml (the LLM.int8() paper's Table 5 shapes:
#                    fp16, bf16, vector-wise int8, LLM.int8() with its stages),
#                    experiments/gpu-first-schemes.yaml (one fp8 and one 4-bit scheme),
#                    then the peers (tools/gpu_peers.py: torch's fp16 matmul and
#                    torch._int_mm, bitsandbytes' Linear8bitLt at threshold 0 and 6 on
#                    gpu-first's shapes, imported by `qlab import-peers` as the results
#                    files peers-torch.h5 and peers-bitsandbytes.h5, backends peer:torch
#                    and peer:bitsandbytes); about 4.5 to 6.5 minutes.
#   rest             experiments/latency.yaml, gemm-shapes.yaml and gpu-schemes.yaml
#                    (with timing.timeout_s=1 so that they fit); about 4 to 7.5 minutes.
#
# What it writes (directly under $OUT/<device>/ with $OUT set, else results/gpu/<device>/;
# <device> is the GPU name as a slug, nvidia-h100-80gb-hbm3), 7 files at most:
#   gpu-check.log    everything this script printed (the GPU tests' output included)
#   summary.md       device, settings, test outcome, per experiment `qlab show` and a
#                    table of every point's stage medians; rewritten after each step
#   points.tsv       `qlab export` of every run's points, first column the experiment
#   stages.tsv       per experiment, point and stage: n, min, q1, median, q3, max, mean,
#                    rel_stdev of the timing samples (microseconds)
#   samples.tsv.gz   the samples themselves, the first 500 of each point and stage
#   h5.tar.gz        the results files (<experiment>.h5, peers-<peer>.h5), those that
#                    fit in 15 MiB, and peers.json (what tools/gpu_peers.py wrote)
#   <exp>.h5         only while that experiment runs (so a cut-off call returns it)
# Without $OUT the .h5 files stay beside these instead of being packed.
#
# --prebuilt DIR: binaries and libraries packed by tools/device-bundle.sh on a machine
# with the packages, for a GPU machine that has none of them and cannot fetch them.
# Without it the script builds (make B=${QLAB_BUILD_DIR:-build}).
#
# --rehearse: the same script on a machine WITHOUT a GPU: tools/fake-nvidia-smi first on
# PATH as nvidia-smi, the cpu backend in place of cuda, reduced shapes (--set), the same
# experiments and the same writing under a temporary $OUT (or $OUT when set), one call
# per profile (both unless --profile is given). Then it checks what a call would return
# (file count, sizes, depth, names), that test-gpu skipped cleanly, and the bundle's
# size when build/device exists; it exits 1 naming any violation. About 30 s on 2 cores.
#
# Knobs (environment):
#   QLAB_GPU_EXPERIMENTS="latency"   which experiments, instead of the profile's
#   QLAB_GPU_SETS="timing.timeout_s=1 timing.max_noise=0.03"   --set for every run
#                                    (after the profile's, so they win)
#   QLAB_GPU_SKIP_TESTS=1|0          skip test-gpu (default: 0 for first, 1 for rest)
#   QLAB_GPU_SANITIZE=1              also run the kernel tests under compute-sanitizer
#   QLAB_GPU_BUDGET_S=450            seconds for the whole profile; each run gets what is
#                                    left, less what the later runs are promised
#   QLAB_GPU_PEERS=1|0               time the peers (default: 1 for first, 0 for rest); in
#                                    the rehearsal tests/data/peers/sample.json (a recorded
#                                    peers file) is imported in place of a torch run
# A failed test is recorded and the experiments still run (their timings are wanted
# either way); the script exits 1 at the end. It fails loudly when no GPU is usable: a
# GPU check that silently ran on the CPU would be worse than none.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
trap 'echo "gpu-check: stopped at line $LINENO: $BASH_COMMAND (exit $?)" >&2' ERR

die() { echo "gpu-check: $*" >&2; exit 1; }
say() { printf 'gpu-check: [%4ds] %s\n' "$((SECONDS))" "$*"; }

PROFILE=first PREBUILT="" REHEARSE=0 PROFILE_SET=0
while [ $# -gt 0 ]; do
    case "$1" in
        --profile) PROFILE=${2:?--profile needs first or rest}; PROFILE_SET=1; shift 2 ;;
        --profile=*) PROFILE=${1#--profile=}; PROFILE_SET=1; shift ;;
        --prebuilt) PREBUILT=${2:?--prebuilt needs the directory made by tools/device-bundle.sh}; shift 2 ;;
        --rehearse) REHEARSE=1; shift ;;
        -h|--help) sed -n '2,/^set -E/p' "$0" | sed -e '$d' -e 's/^# \{0,1\}//'; exit 0 ;;
        *) die "unknown argument '$1' (see --help)" ;;
    esac
done
case "$PROFILE" in first|rest) ;; *) die "--profile must be first or rest, not '$PROFILE'" ;; esac

# Limits of what comes back from a lent machine's $OUT (and what travels to it).
MAX_FILES=8 MAX_FILE_MIB=16 MAX_TOTAL_MIB=64 MAX_DEPTH=2 MAX_BUNDLE_MIB=56 MAX_TREE_MIB=64
# Caps of the returned exports (bytes; the environment may lower them to test the
# fallbacks): the compressed samples, and the results files packed in h5.tar.gz.
SAMPLES_PER_STAGE=500
SAMPLES_CAP=${QLAB_GPU_SAMPLES_CAP_BYTES:-$((8 << 20))}
H5_CAP=${QLAB_GPU_H5_CAP_BYTES:-$((15 << 20))}

# ---------------------------------------------------------------------------------
# Limits of a returned folder: prints one line per violation (nothing when it is fine).
check_out_limits() {
    local root=$1 n=0 total=0 f rel size part
    while IFS= read -r -d '' f; do
        rel=${f#"$root"/}
        if [ -L "$f" ] || [ ! -f "$f" ]; then echo "$rel: not a plain file (links and special files do not come back)"; continue; fi
        n=$((n + 1))
        size=$(stat -c %s "$f")
        total=$((total + size))
        [ "$size" -le $((MAX_FILE_MIB << 20)) ] || echo "$rel: $((size >> 20)) MiB, over the $MAX_FILE_MIB MiB a file may have"
        local depth; depth=$(awk -F/ '{print NF - 1}' <<< "$rel")
        [ "$depth" -le "$MAX_DEPTH" ] || echo "$rel: $depth folders below \$OUT, over $MAX_DEPTH"
        IFS=/ read -r -a parts <<< "$rel"
        for part in "${parts[@]}"; do
            [[ "$part" =~ ^[A-Za-z0-9._-]+$ ]] || echo "$rel: '$part' has characters other than letters, digits, '.', '_', '-'"
        done
    done < <(find "$root" -mindepth 1 ! -type d -print0)
    [ "$n" -le "$MAX_FILES" ] || echo "$n files, over the $MAX_FILES that come back"
    [ "$total" -le $((MAX_TOTAL_MIB << 20)) ] || echo "$((total >> 20)) MiB in all, over $MAX_TOTAL_MIB MiB"
    return 0
}

# The bundle (tools/device-bundle.sh) and the tree that travels with it. One line per
# violation; nothing when fine or absent.
check_bundle() {
    local dir=${1:-build/device}
    [ -d "$dir" ] || return 0
    local bundle tree bad
    bundle=$(du -sb "$dir" | cut -f1)
    tree=$(git ls-files -co --exclude-standard -z 2>/dev/null | du --files0-from=- -cb 2>/dev/null | tail -n 1 | cut -f1 || true)
    tree=${tree:-0}
    bad=$(find "$dir" \( -name '*.o' -o -name '*.a' -o -name '*.d' \) -printf '%P ' | head -c 300)
    [ -z "$bad" ] || echo "$dir holds build intermediates ($bad): rebuild it with tools/device-bundle.sh"
    [ "$bundle" -le $((MAX_BUNDLE_MIB << 20)) ] || echo "$dir is $((bundle >> 20)) MiB, over the $MAX_BUNDLE_MIB MiB left for it"
    [ $((bundle + tree)) -le $((MAX_TREE_MIB << 20)) ] ||
        echo "$dir ($((bundle >> 20)) MiB) and the working tree ($((tree >> 20)) MiB) are over the $MAX_TREE_MIB MiB that travel"
    return 0
}

# The peers' part of a rehearsal's returned folder (the first profile imports the
# recorded tests/data/peers/sample.json): one line per violation.
check_peers_out() {
    local root=$1 pts
    pts=$(ls "$root"/*/points.tsv 2>/dev/null | head -n 1)
    [ -n "$pts" ] || { echo "points.tsv missing: the peers' points cannot be checked"; return 0; }
    # experiment, backend, shape, scheme, threshold, status, median of each peer point
    local rows
    rows=$(awk -F'\t' '$1 == "experiment" { for (i = 1; i <= NF; i++) c[$i] = i; next }
        $1 ~ /^peers-/ { printf "%s %s %sx%sx%s %s %g %s %g\n", $1, $c["backend"], $c["m"], $c["k"], $c["n"],
                         $c["scheme"], $c["threshold"], $c["status"], $c["median_us"] }' "$pts")
    local want
    # the sample's points and medians (tests/data/peers/sample.json)
    for want in "peers-torch peer:torch 32x64x256 fp16 0 ok 12" "peers-torch peer:torch 32x64x256 absmax 0 ok 9" \
                "peers-torch peer:torch 4x64x256 fp16 0 ok 6" "peers-torch peer:torch 4x64x256 absmax 0 failed 0" \
                "peers-bitsandbytes peer:bitsandbytes 32x64x256 absmax 0 ok 20" \
                "peers-bitsandbytes peer:bitsandbytes 32x64x256 absmax 6 ok 30" \
                "peers-bitsandbytes peer:bitsandbytes 4x64x256 absmax 0 ok 15" \
                "peers-bitsandbytes peer:bitsandbytes 4x64x256 absmax 6 ok 25"; do
        grep -qxF "$want" <<< "$rows" || echo "points.tsv lacks the peer point '$want' of the played-back sample (has: $(tr '\n' ';' <<< "$rows"))"
    done
    [ "$(wc -l <<< "$rows")" -eq 8 ] || echo "points.tsv has $(wc -l <<< "$rows") peer points, not the sample's 8"
    local st=$(ls "$root"/*/stages.tsv 2>/dev/null | head -n 1)
    grep -qP '^peers-torch\t\d+\tgemm_i8\t5\t' "$st" 2>/dev/null || echo "stages.tsv lacks torch int8_mm's gemm_i8 stage (5 samples)"
    local tgz=$(ls "$root"/*/h5.tar.gz 2>/dev/null | head -n 1) m members
    members=$(tar -tzf "$tgz" 2>/dev/null || true)
    for m in peers-torch.h5 peers-bitsandbytes.h5 peers.json; do
        grep -qx "$m" <<< "$members" || echo "h5.tar.gz lacks $m"
    done
    grep -q '^## qlab and the peers side by side' "$root"/*/summary.md 2>/dev/null || echo "summary.md has no side-by-side table"
    return 0
}

# The bundle's bitsandbytes (peers.tar.xz of tools/device-bundle.sh): one line per violation.
check_bundle_peers() {
    local dir=$1 list libs
    [ -f "$dir/peers.tar.xz" ] || { echo "$dir has no peers.tar.xz (bitsandbytes for tools/gpu_peers.py): rerun tools/device-bundle.sh"; return 0; }
    list=$(tar -tJf "$dir/peers.tar.xz" 2>/dev/null | sed 's|^\./||') || { echo "$dir/peers.tar.xz cannot be read"; return 0; }
    grep -qx 'bitsandbytes/__init__.py' <<< "$list" || echo "$dir/peers.tar.xz has no bitsandbytes/__init__.py"
    libs=$(grep -c '^bitsandbytes/libbitsandbytes_.*\.so$' <<< "$list" || true)
    [ "$libs" = 1 ] || echo "$dir/peers.tar.xz holds $libs libbitsandbytes libraries, not the one of the GPU machine's CUDA"
    return 0
}

# ---------------------------------------------------------------------------------
# --rehearse: run this script per profile under a stand-in nvidia-smi, then check.
if [ "$REHEARSE" = 1 ]; then
    [ -z "${QLAB_GPU_REHEARSAL:-}" ] || die "--rehearse inside a rehearsal"
    profiles="first rest"
    [ "$PROFILE_SET" = 0 ] || profiles=$PROFILE
    fakebin=$(mktemp -d /tmp/qlab-fakebin.XXXXXX) || die "cannot make a temporary folder"
    cp tools/fake-nvidia-smi "$fakebin/nvidia-smi" && chmod +x "$fakebin/nvidia-smi" ||
        die "cannot install tools/fake-nvidia-smi as $fakebin/nvidia-smi"
    base=${OUT:-}
    own_base=0
    if [ -z "$base" ]; then base=$(mktemp -d /tmp/qlab-rehearse.XXXXXX) || die "cannot make a temporary \$OUT"; own_base=1; fi
    violations=0
    echo "gpu-check --rehearse: no GPU; nvidia-smi is tools/fake-nvidia-smi, the cpu backend stands in for cuda"
    for p in $profiles; do
        pout=$base
        [ "$profiles" = "$p" ] || pout=$base/$p
        mkdir -p "$pout" || die "cannot make $pout"
        if [ -n "$(ls -A "$pout")" ]; then die "rehearsal \$OUT $pout is not empty"; fi
        args=(--profile "$p")
        [ -z "$PREBUILT" ] || args+=(--prebuilt "$PREBUILT")
        echo "== profile $p: OUT=$pout"
        t0=$SECONDS rc=0
        env PATH="$fakebin:$PATH" OUT="$pout" QLAB_GPU_REHEARSAL=1 bash "$0" "${args[@]}" \
            > "$fakebin/rehearse-$p.out" 2>&1 || rc=$?
        grep -E '^gpu-check: \[' "$fakebin/rehearse-$p.out" | sed 's/^/   /' || true
        if [ "$rc" -ne 0 ]; then
            echo "   VIOLATION: the profile $p run exited $rc; its last lines:"
            tail -n 25 "$fakebin/rehearse-$p.out" | sed 's/^/   | /'
            violations=$((violations + 1))
        fi
        echo "   returned files ($((SECONDS - t0)) s):"
        (cd "$pout" && find . -mindepth 1 ! -type d -printf '%s\t%P\n' | sort -k2 |
            awk -F'\t' '{printf "     %10d  %s\n", $1, $2; t += $1; n++} END {printf "     %10d  total, %d files\n", t, n}')
        out_bad=$(check_out_limits "$pout")
        if [ "$p" = first ] && ! grep -q '^- GPU tests: skipped cleanly' "$pout"/*/summary.md 2>/dev/null; then
            out_bad+=$'\n'"test-gpu did not skip cleanly without a GPU (see $pout/*/gpu-check.log)"
        fi
        for need in summary.md gpu-check.log points.tsv stages.tsv samples.tsv.gz; do
            ls "$pout"/*/"$need" >/dev/null 2>&1 || out_bad+=$'\n'"$need was not written"
        done
        if [ "$p" = first ] && [ "${QLAB_GPU_PEERS:-1}" = 1 ]; then
            out_bad+=$'\n'"$(check_peers_out "$pout")"
        fi
        out_bad=$(sed '/^$/d' <<< "$out_bad")
        if [ -n "$out_bad" ]; then
            sed 's/^/   VIOLATION: /' <<< "$out_bad"
            violations=$((violations + $(wc -l <<< "$out_bad")))
        else
            echo "   limits: ok (<= $MAX_FILES files, <= $MAX_FILE_MIB MiB each, <= $MAX_TOTAL_MIB MiB, <= $MAX_DEPTH folders down, plain names)"
        fi
    done
    echo "== bundle"
    bdir=${PREBUILT:-build/device}
    if [ -d "$bdir" ]; then
        bundle_bad=$(check_bundle "$bdir"; check_bundle_peers "$bdir")
        if [ -n "$bundle_bad" ]; then
            sed 's/^/   VIOLATION: /' <<< "$bundle_bad"
            violations=$((violations + $(wc -l <<< "$bundle_bad")))
        else
            echo "   $bdir: $(du -sb "$bdir" | awk '{printf "%.1f MiB", $1 / 1048576}') (<= $MAX_BUNDLE_MIB MiB, no objects or archives; with the tree <= $MAX_TREE_MIB MiB);" \
                 "peers.tar.xz $(du -b "$bdir/peers.tar.xz" | awk '{printf "%.1f MiB", $1 / 1048576}'): $(tar -tJf "$bdir/peers.tar.xz" | awk '/libbitsandbytes_/ {sub(/^[.]\//, ""); print}')"
        fi
    else
        echo "   $bdir absent (tools/device-bundle.sh makes it): not checked"
    fi
    if [ "$violations" -ne 0 ]; then
        echo "gpu-check --rehearse: FAILED, $violations violation(s); outputs kept in $base and $fakebin"
        exit 1
    fi
    rm -rf "$fakebin"
    [ "$own_base" = 0 ] || rm -rf "$base"
    echo "gpu-check --rehearse: ok (profiles: $profiles)"
    exit 0
fi

# ---------------------------------------------------------------------------------
# The check itself. First: which GPU, and where the files go.
REH=${QLAB_GPU_REHEARSAL:-0}
command -v nvidia-smi >/dev/null 2>&1 || die "nvidia-smi not found: this machine has no NVIDIA driver, so no GPU to check"
name=$(nvidia-smi --query-gpu=name --format=csv,noheader 2>&1 | head -n 1) || die "nvidia-smi cannot query a GPU: $name"
case "$name" in ""|*"failed"*|*"NVIDIA-SMI has"*|*"No devices"*) die "nvidia-smi lists no usable GPU: ${name:-nothing}" ;; esac
slug=$(printf '%s' "$name" | tr '[:upper:]' '[:lower:]' | sed -e 's/[^a-z0-9]\{1,\}/-/g' -e 's/^-//' -e 's/-$//')
[ -n "$slug" ] || die "cannot make a folder name of the GPU name '$name'"
if [ -n "${OUT:-}" ]; then
    out=$OUT/$slug
else
    out=results/gpu/$slug
fi

# Everything printed goes to $out/gpu-check.log as well: run again under tee.
if [ -z "${QLAB_GPU_LOGGING:-}" ]; then
    mkdir -p "$out" || die "cannot make $out"
    if [ -n "${OUT:-}" ] && [ -n "$(ls -A "$out")" ]; then
        die "$out is not empty: give an empty \$OUT (at most $MAX_FILES files come back)"
    fi
    if [ -z "${OUT:-}" ]; then
        # Keep what an earlier check left here under its time stamp.
        old=$(find "$out" -maxdepth 1 -type f | head -n 1)
        if [ -n "$old" ]; then
            prev=$out/before-$(date -u +%Y%m%dT%H%M%SZ)
            mkdir -p "$prev" && find "$out" -maxdepth 1 -type f -exec mv -t "$prev" {} + ||
                die "cannot move the earlier files of $out aside"
        fi
    fi
    args=(--profile "$PROFILE")
    [ -z "$PREBUILT" ] || args+=(--prebuilt "$PREBUILT")
    trap - ERR
    set +e
    QLAB_GPU_LOGGING=1 bash "$0" "${args[@]}" 2>&1 | tee "$out/gpu-check.log"
    rc=${PIPESTATUS[0]}
    exit "$rc"
fi

BUDGET=${QLAB_GPU_BUDGET_S:-450}
deadline=$((SECONDS + BUDGET))
# Working files (exports before compaction, finished results files under $OUT, the
# unpacked libraries) live outside $out and go at exit.
work=$(mktemp -d /tmp/qlab-gpu-work.XXXXXX) || die "cannot make a work folder"
trap 'rm -rf "$work"' EXIT
say "device '$name' -> $out (profile $PROFILE, budget $BUDGET s$([ "$REH" = 1 ] && echo ', REHEARSAL: cpu backend, reduced shapes'))"
# What the machine is, first: a mismatch of driver and toolkit shows here, not as a
# loader error later.
nvidia-smi --query-gpu=name,driver_version,compute_cap,clocks.max.sm,memory.total --format=csv 2>&1 || true
if command -v nvcc >/dev/null 2>&1; then nvcc --version 2>&1 | tail -n 1 || true; fi
echo "host: $(uname -srm), $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2 / 1048576}' /proc/meminfo 2>/dev/null || echo '? GiB') memory"

# ---------------------------------------------------------------------------------
# Binaries: prebuilt (and their libraries) or built here.
unresolved() {   # libraries the binaries cannot load, one line each
    local b
    for b in "$BIN/qlab" "$BIN/test-gpu"; do
        [ -x "$b" ] || die "$b is missing or not executable"
        ldd "$b" >/dev/null 2>&1 || die "$b is no program this machine can load: $(ldd "$b" 2>&1 | head -n 1)"
    done
    for b in "$BIN/qlab" "$BIN/test-gpu"; do ldd "$b" 2>&1 || true; done | awk '/not found/ {print $1}' | sort -u || true
}
if [ -n "$PREBUILT" ]; then
    BIN=$PREBUILT
    for f in qlab test-gpu libs.tar.xz; do
        [ -e "$BIN/$f" ] || die "$BIN/$f missing: run tools/device-bundle.sh on the build machine first"
    done
    libs=$work/libs
    mkdir -p "$libs" || die "cannot make $libs for the libraries"
    # tar needs xz for -J; where it is missing, Python's tarfile reads xz itself.
    if command -v xz >/dev/null 2>&1; then
        tar -C "$libs" -xJf "$BIN/libs.tar.xz" || die "cannot unpack $BIN/libs.tar.xz into $libs"
    else
        python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$BIN/libs.tar.xz" "$libs" ||
            die "cannot unpack $BIN/libs.tar.xz into $libs (no xz, and python3's tarfile failed)"
    fi
    export LD_LIBRARY_PATH="$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    # cuBLASLt and the CUDA runtime come from this machine's toolkit (the binaries' rpath
    # names $CUDA_HOME/lib64 of the build machine). Where they do not resolve, look in the
    # usual toolkit folders, then in Python's nvidia-* wheels, then search.
    missing=$(unresolved)
    if [ -n "$missing" ]; then
        say "not found with the bundle's libraries: $(echo $missing)"
        cands=()
        for d in ${CUDA_HOME:+"$CUDA_HOME/lib64"} /usr/local/cuda/lib64 /usr/local/cuda/targets/x86_64-linux/lib /usr/lib/x86_64-linux-gnu; do
            [ -d "$d" ] && cands+=("$d")
        done
        if command -v python3 >/dev/null 2>&1; then
            py=$(timeout 30 python3 -c 'import glob, os, sys
for p in sys.path:
    for d in glob.glob(os.path.join(p, "nvidia", "*", "lib")): print(d)' 2>/dev/null || true)
            while IFS= read -r d; do [ -n "$d" ] && cands+=("$d"); done <<< "$py"
        fi
        roots=()
        for d in /usr/local /usr/lib /usr/lib64 /opt; do [ -d "$d" ] && roots+=("$d"); done
        for lib in $missing; do
            found=""
            for d in "${cands[@]}"; do
                if [ -e "$d/$lib" ]; then found=$d; break; fi
            done
            if [ -z "$found" ] && [ ${#roots[@]} -gt 0 ]; then
                found=$(timeout 60 find "${roots[@]}" -name "$lib" -printf '%h\n' 2>/dev/null | head -n 1 || true)
            fi
            if [ -n "$found" ]; then
                say "$lib from $found"
                case ":$LD_LIBRARY_PATH:" in *":$found:"*) ;; *) LD_LIBRARY_PATH="$LD_LIBRARY_PATH:$found" ;; esac
            else
                say "$lib: not in ${cands[*]:-no toolkit folder} nor under ${roots[*]:-nothing}"
            fi
        done
    fi
    still=$(unresolved)
    [ -z "$still" ] || die "cannot load $(echo $still) for $BIN/qlab and $BIN/test-gpu; set LD_LIBRARY_PATH to the folder holding them (the CUDA toolkit's lib64)"
    say "prebuilt binaries from $BIN; LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
else
    BIN=${QLAB_BUILD_DIR:-build}
    say "building: make B=$BIN $BIN/qlab $BIN/test-gpu"
    make -j"$(nproc)" B="$BIN" "$BIN/qlab" "$BIN/test-gpu" || die "make failed (see above)"
    [ -x "$BIN/test-gpu" ] || die "$BIN/test-gpu was not built (is nvcc on PATH or in /usr/local/cuda?)"
    still=$(unresolved)
    [ -z "$still" ] || die "cannot load $(echo $still) for $BIN/qlab and $BIN/test-gpu"
fi
[ -x "$BIN/qlab" ] || die "$BIN/qlab is not an executable"

# ---------------------------------------------------------------------------------
# The profile: experiments, each with its longest run (cap) and the time promised to it
# by the runs before (floor), in seconds; the --sets that make them fit.
declare -A CAP FLOOR RSETS
case "$PROFILE" in
    first) EXPERIMENTS="gpu-first gpu-first-schemes"; SKIP_TESTS=${QLAB_GPU_SKIP_TESTS:-0}; PSETS=""
           PEERS=${QLAB_GPU_PEERS:-1} ;;
    rest) EXPERIMENTS="latency gemm-shapes gpu-schemes"; SKIP_TESTS=${QLAB_GPU_SKIP_TESTS:-1}; PSETS="timing.timeout_s=1"
          PEERS=${QLAB_GPU_PEERS:-0} ;;
esac
# The peers after the experiments: at most CAP s, FLOOR s promised to them by the runs
# before (torch's start, 16 shapes x 5 timed loops of <= 0.15 s, bitsandbytes' weight
# quantization through the host: about 40 to 90 s).
PEERS_CAP=150 PEERS_FLOOR=75
PEER_NAMES="torch bitsandbytes"
CAP[gpu-first]=330 FLOOR[gpu-first]=120
CAP[gpu-first-schemes]=120 FLOOR[gpu-first-schemes]=60
CAP[latency]=260 FLOOR[latency]=120
CAP[gemm-shapes]=120 FLOOR[gemm-shapes]=60
CAP[gpu-schemes]=200 FLOOR[gpu-schemes]=90
EXPERIMENTS=${QLAB_GPU_EXPERIMENTS:-$EXPERIMENTS}
# Rehearsal: the same experiments at a few dozen multiply-adds a row, timed briefly.
RTIMING='timing={warmup: 1, min_samples: 5, max_noise: 0.5, min_time_s: 0.002, timeout_s: 0.02}'
RSETS[gpu-first]="workload.m=[32,4] workload.k=[12,16,24,32,40,64,80,192] workload.n=[48,64,96,128,160,256,320,768]"
RSETS[latency]=${RSETS[gpu-first]}
RSETS[gpu-first-schemes]="workload.m=[4,32] workload.k=128 workload.n=256"
RSETS[gemm-shapes]="workload.m=[16,24,32,48,64] workload.k=[16,24,32,48,64] workload.n=[16,24,32,48,64]"
RSETS[gpu-schemes]="workload.m=[1,4,32] workload.k=128 workload.n=256"
BACKEND=cuda
[ "$REH" = 0 ] || BACKEND=cpu
for exp in $EXPERIMENTS; do
    [ -f "experiments/$exp.yaml" ] || die "experiments/$exp.yaml does not exist"
done

# Results files in h5.tar.gz and sections of summary.md: the experiments', then the peers'.
PACKED=$EXPERIMENTS
[ "$PEERS" != 1 ] || for pn in $PEER_NAMES; do PACKED="$PACKED peers-$pn"; done
peers_line="not run"
failed=""
fail() { failed="$failed; $*"; say "FAILED: $*"; }
tests_line="not run"
declare -A RUN_NOTE H5_NOTE

# ---------------------------------------------------------------------------------
# Exports: compact tables of a results file, added to the returned ones.
TAB=$'\t'
export_results() {   # exp file
    local exp=$1 f=$2 hdr
    timeout -k 5 120 "$BIN/qlab" show "$f" > "$work/$exp.show.txt" 2>&1 || echo "(qlab show failed)" >> "$work/$exp.show.txt"
    if ! timeout -k 5 120 "$BIN/qlab" export "$f" --table points > "$work/$exp.points.tsv" 2> "$work/$exp.export.err"; then
        fail "$exp: qlab export of the points failed: $(head -c 300 "$work/$exp.export.err")"
        return 0
    fi
    hdr=$(head -n 1 "$work/$exp.points.tsv")
    if [ ! -s "$out/points.tsv" ]; then
        printf 'experiment\t%s\n' "$hdr" > "$out/points.tsv"
    elif [ "$(head -n 1 "$out/points.tsv")" != "experiment$TAB$hdr" ]; then
        printf 'experiment\t%s\n' "$hdr" >> "$out/points.tsv"   # another column set: its own header
    fi
    awk -v e="$exp" 'NR > 1 {print e "\t" $0}' "$work/$exp.points.tsv" >> "$out/points.tsv"

    if ! timeout -k 5 300 "$BIN/qlab" export "$f" --table samples > "$work/$exp.samples.tsv" 2> "$work/$exp.export.err"; then
        fail "$exp: qlab export of the samples failed: $(head -c 300 "$work/$exp.export.err")"
        return 0
    fi
    [ -s "$out/stages.tsv" ] ||
        printf 'experiment\tpoint_id\tstage\tn\tmin_us\tq1_us\tmedian_us\tq3_us\tmax_us\tmean_us\trel_stdev\n' > "$out/stages.tsv"
    # Per point and stage, from the samples sorted by time: quantiles by linear
    # interpolation between order statistics (as qlab's own summary), relative stdev.
    tail -n +2 "$work/$exp.samples.tsv" | LC_ALL=C sort -t "$TAB" -k1,1n -k2,2 -k3,3g |
        awk -F'\t' -v e="$exp" '
            function q(p,   pos, lo, fr) { pos = p * (n - 1); lo = int(pos); fr = pos - lo
                return lo + 2 <= n ? v[lo + 1] + (v[lo + 2] - v[lo + 1]) * fr : v[lo + 1] }
            function flush(   mean, ss, i, sd) {
                if (n == 0) return
                mean = sum / n; ss = 0
                for (i = 1; i <= n; i++) ss += (v[i] - mean) ^ 2
                sd = n > 1 ? sqrt(ss / (n - 1)) : 0
                printf "%s\t%s\t%s\t%d\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\t%.4f\n", e, pid, st, n, v[1], q(0.25), q(0.5), q(0.75), v[n], mean, (mean > 0 ? sd / mean : 0)
            }
            { key = $1 SUBSEP $2
              if (key != prev) { flush(); prev = key; pid = $1; st = $2; n = 0; sum = 0 }
              v[++n] = $3 + 0; sum += $3 }
            END { flush() }' >> "$out/stages.tsv"
    # The samples in the order taken, the first SAMPLES_PER_STAGE of each point and
    # stage (halved until the compressed set is under its cap).
    [ -s "$work/samples.tsv" ] || printf 'experiment\tpoint_id\tstage\ttime_us\n' > "$work/samples.tsv"
    awk -F'\t' -v e="$exp" -v cap="$SAMPLES_PER_STAGE" 'NR > 1 && c[$1 SUBSEP $2]++ < cap {printf "%s\t%s\t%s\t%.3f\n", e, $1, $2, $3}' \
        "$work/$exp.samples.tsv" > "$work/$exp.samples.capped.tsv"
    cat "$work/$exp.samples.capped.tsv" >> "$work/samples.tsv"
    local per=$SAMPLES_PER_STAGE
    gzip -c "$work/samples.tsv" > "$out/samples.tsv.gz.new"
    while [ "$(stat -c %s "$out/samples.tsv.gz.new")" -gt "$SAMPLES_CAP" ] && [ "$per" -gt 1 ]; do
        per=$((per / 2))
        awk -F'\t' -v cap="$per" 'NR == 1 || c[$1 SUBSEP $2 SUBSEP $3]++ < cap' "$work/samples.tsv" | gzip -c > "$out/samples.tsv.gz.new"
        RUN_NOTE[samples]="samples.tsv.gz holds the first $per samples of each point and stage (the first $SAMPLES_PER_STAGE were over $((SAMPLES_CAP >> 10)) KiB compressed)"
    done
    mv -f "$out/samples.tsv.gz.new" "$out/samples.tsv.gz"
    rm -f "$work/$exp.samples.tsv" "$work/$exp.samples.capped.tsv" "$work/$exp.points.tsv" "$work/$exp.export.err"
}

# Under $OUT: the finished results file moves to the work folder and the returned
# h5.tar.gz is remade of those that fit.
pack_h5() {
    local exp=$1 f=$2
    [ -n "${OUT:-}" ] || return 0
    [ -z "$f" ] || [ ! -e "$f" ] || mv -f "$f" "$work/$exp.h5"
    local members=() total=0 sz e
    H5_NOTE=()
    for e in $PACKED; do
        [ -e "$work/$e.h5" ] || continue
        sz=$(gzip -c "$work/$e.h5" | wc -c)
        if [ $((total + sz)) -le "$H5_CAP" ]; then
            members+=("$e.h5"); total=$((total + sz))
        else
            H5_NOTE[$e]="$e.h5 ($(($(stat -c %s "$work/$e.h5") >> 10)) KiB) left out of h5.tar.gz: over $((H5_CAP >> 10)) KiB compressed with the others; see points.tsv, stages.tsv, samples.tsv.gz"
        fi
    done
    if [ -s "$work/peers.json" ]; then
        sz=$(gzip -c "$work/peers.json" | wc -c)
        if [ $((total + sz)) -le "$H5_CAP" ]; then members+=(peers.json); total=$((total + sz)); fi
    fi
    if [ ${#members[@]} -gt 0 ]; then
        tar -C "$work" -czf "$out/h5.tar.gz.new" "${members[@]}" && mv -f "$out/h5.tar.gz.new" "$out/h5.tar.gz" ||
            fail "packing h5.tar.gz"
    fi
}

# A table of every point: shape, scheme, status, the total and the baselines' medians,
# and each stage's median (microseconds), from points.tsv and stages.tsv.
stage_table() {
    local exp=$1
    [ -s "$out/points.tsv" ] && [ -s "$out/stages.tsv" ] || return 0
    awk -F'\t' -v e="$exp" '
        FNR == 1 { file++ }
        file == 1 && FNR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        file == 1 && $1 == e { ids[++np] = $col["id"]
            row[$col["id"]] = sprintf("%5s %6s %6s %6s  %-9s %3s %-7s %-7s", $col["id"], $col["m"], $col["k"], $col["n"],
                $col["scheme"], $col["threshold"] == "0" ? "-" : $col["threshold"],
                $col["threshold"] == "0" ? "-" : $col["outlier_weights"], $col["status"])
            sp[$col["id"]] = $col["speedup_vs_fp16"]; next }
        file == 2 && $1 == e { med[$2 SUBSEP $3] = $7; if (!($3 in seen)) { seen[$3] = 1; order[++ns] = $3 } }
        END {
            if (np == 0) exit
            n = split("total fp16_gemm bf16_gemm quantize_x gemm_i8 gemm_fp8 gemm_fp8_as_fp16 outlier_gemm dequant dequant_w gemm_f16 dequant_scales gemv_4bit", canon, " ")
            for (i = 1; i <= n; i++) if (canon[i] in seen) { cols[++nc] = canon[i]; used[canon[i]] = 1 }
            for (i = 1; i <= ns; i++) if (!(order[i] in used)) cols[++nc] = order[i]
            printf "%5s %6s %6s %6s  %-9s %3s %-7s %-7s %8s", "id", "m", "k", "n", "scheme", "thr", "outl_w", "status", "vs_fp16"
            for (c = 1; c <= nc; c++) printf " %12s", cols[c]
            printf "\n"
            for (i = 1; i <= np; i++) { id = ids[i]
                printf "%s %7.2fx", row[id], sp[id]
                for (c = 1; c <= nc; c++) printf " %12s", (id SUBSEP cols[c]) in med ? sprintf("%.1f", med[id SUBSEP cols[c]]) : "-"
                printf "\n" }
        }' "$out/points.tsv" "$out/stages.tsv"
}

# qlab's points and the peers' of the same axes side by side: per shape and scheme the
# median of the whole op, from points.tsv (qlab's from gpu-first).
peers_table() {
    awk -F'\t' '
        $1 == "experiment" { for (i = 1; i <= NF; i++) col[$i] = i; next }
        $1 != "gpu-first" && $1 !~ /^peers-/ { next }
        { key = sprintf("%6s %6s %6s  %-7s %3s %-7s", $col["m"], $col["k"], $col["n"], $col["scheme"],
                        $col["threshold"] == "0" ? "-" : $col["threshold"], $col["threshold"] == "0" ? "-" : $col["outlier_weights"])
          if ($col["scheme"] == "bf16") next
          who = $1 == "gpu-first" ? "qlab" : substr($1, 7)
          v = $col["status"] == "ok" ? sprintf("%.1f", $col["median_us"]) : $col["status"]
          if (!(key in seen)) { seen[key] = 1; keys[++nk] = key }
          if ($1 ~ /^peers-/) peer[key] = 1
          val[key, who] = v }
        function ratio(a, b) { return (a + 0 > 0 && b + 0 > 0) ? sprintf("%.2fx", a / b) : "-" }
        END {
            printf "%6s %6s %6s  %-7s %3s %-7s %9s %9s %9s %8s %8s\n", "m", "k", "n", "scheme", "thr", "outl_w",
                   "qlab", "torch", "bnb", "torch/q", "bnb/q"
            for (i = 1; i <= nk; i++) { k = keys[i]; if (!(k in peer)) continue
                q = (k, "qlab") in val ? val[k, "qlab"] : "-"
                t = (k, "torch") in val ? val[k, "torch"] : "-"
                b = (k, "bitsandbytes") in val ? val[k, "bitsandbytes"] : "-"
                printf "%s %9s %9s %9s %8s %8s\n", k, q, t, b, ratio(t, q), ratio(b, q) }
        }' "$out/points.tsv"
}

write_summary() {
    local state=$1 exp
    {
        echo "# GPU check: $name ($PROFILE profile)$([ "$REH" = 1 ] && echo ' -- REHEARSAL on the cpu backend, reduced shapes, fake nvidia-smi')"
        echo
        echo "- state: $state after $SECONDS s of a $BUDGET s budget"
        echo "- date (UTC): $(date -u +%Y-%m-%dT%H:%M:%SZ)"
        echo "- git commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git rev-parse -q HEAD >/dev/null 2>&1 && ! git diff --quiet HEAD -- 2>/dev/null && echo ' (with local changes)')"
        echo "- nvidia-smi: $(nvidia-smi --query-gpu=driver_version,compute_cap,clocks.sm,clocks.max.sm,memory.total --format=csv,noheader 2>&1 | head -n 1 || true)"
        echo "- binaries: $BIN ($("$BIN/qlab" info 2>/dev/null | head -n 1 || echo 'qlab info failed'))"
        echo "- backend: $BACKEND; --set for every run: $(echo ${PSETS:-} ${QLAB_GPU_SETS:-} | sed 's/^$/none/')$([ "$REH" = 1 ] && echo ' (and the rehearsal'"'"'s reduced shapes and timing)')"
        echo "- GPU tests: $tests_line"
        echo "- peers: $peers_line"
        echo "- failures: $([ -n "$failed" ] && echo "${failed#; }" || echo none)"
        [ -z "${RUN_NOTE[samples]:-}" ] || echo "- ${RUN_NOTE[samples]}"
        echo
        echo "Files: points.tsv (every point, first column the experiment), stages.tsv (per point"
        echo "and stage: n, min, q1, median, q3, max, mean in us, rel_stdev), samples.tsv.gz (the"
        echo "first samples of each point and stage), h5.tar.gz (the results files that fit),"
        echo "gpu-check.log (everything printed)."
        if [ -s "$out/points.tsv" ] && grep -q "^peers-" "$out/points.tsv"; then
            echo
            echo "## qlab and the peers side by side"
            echo
            echo "Median of the whole op (us; qlab's \"total\", the peers' too), by shape and scheme;"
            echo "the ratio is the peer's time over qlab's (> 1: qlab is faster):"
            echo
            echo '```'
            peers_table || echo "(peers table failed)"
            echo '```'
        fi
        for exp in $PACKED; do
            echo
            echo "## $exp"
            echo
            echo "- run: ${RUN_NOTE[$exp]:-not run}"
            [ -z "${H5_NOTE[$exp]:-}" ] || echo "- ${H5_NOTE[$exp]}"
            if [ -e "$work/$exp.show.txt" ]; then
                echo
                echo '```'
                cat "$work/$exp.show.txt"
                echo '```'
                echo
                echo "Stage medians (us; total is the scheme's forward, fp16_gemm and bf16_gemm the"
                echo "baselines of the same shape):"
                echo
                echo '```'
                stage_table "$exp" || echo "(stage table failed)"
                echo '```'
            fi
        done
    } > "$out/summary.md.new" 2>&1 && mv -f "$out/summary.md.new" "$out/summary.md" || say "writing summary.md failed"
}
write_summary "started"

# ---------------------------------------------------------------------------------
# The GPU tests (kernels against quant/): one process at a time, none over 120 s.
if [ "$SKIP_TESTS" != 1 ]; then
    say "test-gpu (at most 180 s)"
    test_log=$work/test-gpu.log
    rc=0
    timeout -k 10 180 "$BIN/test-gpu" --verbose --jobs 1 --timeout 120 > "$test_log" 2>&1 || rc=$?
    cat "$test_log"
    runs=$(grep -c '^\[RUN \]' "$test_log" || true)
    skips=$(grep -c '^\[SKIP\]' "$test_log" || true)
    passes=$(grep -c '^\[PASS\]' "$test_log" || true)
    synth=$(grep -m1 'Synthesis' "$test_log" | sed 's/^\[====\] //' || true)
    # Failed or crashed tests: [FAIL] lines, or the synthesis' counts where it has them.
    fails=$(grep -c '^\[FAIL\]' "$test_log" || true)
    fails=$((fails + $(sed -n 's/.*Failing: \([0-9]*\).*Crashing: \([0-9]*\).*/\1 + \2/p' <<< "$synth" | head -n 1 | grep . || echo 0)))
    if [ "$REH" = 1 ]; then
        # Without a GPU every test that needs one must skip, saying why; those that
        # need none (argument checks) pass; nothing fails or crashes; exit 0.
        if [ "$rc" -eq 0 ] && [ "$skips" -gt 0 ] && [ $((skips + passes)) -eq "$runs" ] && [ "$fails" -eq 0 ]; then
            tests_line="skipped cleanly ($skips of $runs tests skipped, $passes passed without a GPU, exit 0): $(grep -m1 '^\[SKIP\]' "$test_log" | sed 's/^\[SKIP\] [^ ]*: //')"
        else
            tests_line="did NOT skip cleanly: exit $rc, $runs run, $skips skipped, $passes passed, $fails failed; $synth"
            fail "test-gpu without a GPU: exit $rc, $runs run, $skips skipped, $passes passed, $fails failed"
        fi
    elif [ "$skips" -gt 0 ]; then
        tests_line="SKIPPED ($skips of $runs): $(grep -m1 '^\[SKIP\]' "$test_log")"
        fail "GPU tests skipped: no usable GPU ($(grep -m1 '^\[SKIP\]' "$test_log" | sed 's/^\[SKIP\] [^ ]*: //'))"
        write_summary "stopped: no usable GPU"
        die "GPU tests skipped: the GPU is not usable, so no timing would be either (see $out/summary.md)"
    else
        tests_line="exit $rc$([ "$rc" -eq 124 ] && echo ' (timed out at 180 s)'); $synth"
        [ "$rc" -eq 0 ] || fail "test-gpu (exit $rc: $synth)"
    fi
    if [ "${QLAB_GPU_SANITIZE:-0}" = 1 ]; then
        if command -v compute-sanitizer >/dev/null 2>&1; then
            rc=0
            timeout -k 10 300 compute-sanitizer --error-exitcode 9 --target-processes all \
                "$BIN/test-gpu" --jobs 1 --timeout 300 > "$work/sanitizer.log" 2>&1 || rc=$?
            tail -n 20 "$work/sanitizer.log"
            [ "$rc" -eq 0 ] || fail "compute-sanitizer (exit $rc)"
        else
            fail "compute-sanitizer (not installed)"
        fi
    fi
    say "test-gpu: $tests_line"
else
    tests_line="not run ($([ -n "${QLAB_GPU_SKIP_TESTS:-}" ] && echo "QLAB_GPU_SKIP_TESTS=$QLAB_GPU_SKIP_TESTS" || echo "the $PROFILE profile runs none"))"
    say "test-gpu skipped"
fi
write_summary "tests done"

# ---------------------------------------------------------------------------------
# The experiments, each under `timeout -k 10`: SIGTERM makes qlab stop after the current
# point and mark the file interrupted (every finished point kept), SIGKILL 10 s later.
# The profile's --sets, the rehearsal's (below), then QLAB_GPU_SETS: the last one wins.
psets=() usets=()
for kv in $PSETS; do psets+=(--set "$kv"); done
for kv in ${QLAB_GPU_SETS:-}; do usets+=(--set "$kv"); done
exps=($EXPERIMENTS)
for i in "${!exps[@]}"; do
    exp=${exps[$i]}
    later=0
    for e in "${exps[@]:$((i + 1))}"; do later=$((later + ${FLOOR[$e]:-60})); done
    [ "$PEERS" != 1 ] || later=$((later + PEERS_FLOOR))
    left=$((deadline - SECONDS - later))
    t=${CAP[$exp]:-300}
    [ "$left" -ge "$t" ] || t=$left
    if [ "$t" -lt 20 ]; then
        RUN_NOTE[$exp]="not run: $((deadline - SECONDS)) s of the budget left, $later s promised to later runs"
        fail "$exp: no time left"
        continue
    fi
    rsets=()
    if [ "$REH" = 1 ]; then
        for kv in ${RSETS[$exp]:-}; do rsets+=(--set "$kv"); done
        rsets+=(--set "$RTIMING")
    fi
    f=$out/$exp.h5
    [ ! -e "$f" ] || mv -f "$f" "$out/$exp-before-$(date -u +%Y%m%dT%H%M%SZ).h5"
    say "$exp: qlab run --backend $BACKEND (at most $t s)"
    t0=$SECONDS rc=0
    timeout -k 10 "$t" "$BIN/qlab" run "experiments/$exp.yaml" --backend "$BACKEND" "${psets[@]}" "${rsets[@]}" \
        "${usets[@]}" -o "$f" --no-progress || rc=$?
    how="exit $rc"
    case $rc in
        0) how="complete" ;;
        1) how="exit 1 (some points failed)" ;;
        124) how="stopped at its $t s limit (SIGTERM: finished points kept)" ;;
        137) how="killed at its $t s limit + 10 s" ;;
    esac
    RUN_NOTE[$exp]="$how in $((SECONDS - t0)) s"
    say "$exp: ${RUN_NOTE[$exp]}"
    [ "$rc" -eq 0 ] || fail "$exp ($how)"
    if [ -e "$f" ]; then
        export_results "$exp" "$f"
        # Where it ran: a GPU check whose points ran on the CPU is no GPU check.
        if [ -s "$out/points.tsv" ]; then
            wrong=$(awk -F'\t' -v e="$exp" -v b="$BACKEND" 'NR == 1 {for (i = 1; i <= NF; i++) if ($i == "backend") c = i; next}
                       $1 == e && c && $c != b {n++} END {print n + 0}' "$out/points.tsv")
            [ "$wrong" -eq 0 ] || fail "$exp: $wrong points did not run on $BACKEND"
        fi
        pack_h5 "$exp" "$f"
    else
        fail "$exp: no results file"
    fi
    write_summary "$exp done"
done

# ---------------------------------------------------------------------------------
# The peers: tools/gpu_peers.py on gpu-first's shapes (in the rehearsal, which has no
# torch or GPU, it runs only to show that it says so, and the recorded
# tests/data/peers/sample.json stands in for its output), then `qlab import-peers` per
# peer into peers-<peer>.h5, exported and packed like the experiments' files.
run_peers() {
    local json=$work/peers.json plog=$work/peers.log rc=0 t left tarball="" bnb_dir="" d pn f
    left=$((deadline - SECONDS))
    t=$PEERS_CAP
    [ "$left" -ge "$t" ] || t=$left
    if [ "$t" -lt 30 ]; then
        peers_line="not run: $left s of the budget left"
        fail "peers: no time left"
        return 0
    fi
    if [ "$REH" = 0 ] && ! command -v python3 >/dev/null 2>&1; then
        peers_line="skipped: no python3 here (tools/gpu_peers.py needs it, and torch)"
        say "peers $peers_line"
        return 0
    fi
    for d in ${PREBUILT:+"$PREBUILT"} build/device; do
        if [ -f "$d/peers.tar.xz" ]; then tarball=$d/peers.tar.xz; break; fi
    done
    if [ -n "$tarball" ]; then
        bnb_dir=$work/peers-lib
        mkdir -p "$bnb_dir"
        if command -v xz >/dev/null 2>&1; then
            tar -C "$bnb_dir" -xJf "$tarball" || bnb_dir=""
        else
            python3 -c 'import sys, tarfile; tarfile.open(sys.argv[1]).extractall(sys.argv[2])' "$tarball" "$bnb_dir" || bnb_dir=""
        fi
        [ -n "$bnb_dir" ] || say "peers: cannot unpack $tarball; bitsandbytes only if this machine has it"
    fi
    local pargs=(-o "$json" --budget-s $((t - 30)))
    [ -z "$bnb_dir" ] || pargs+=(--bnb-dir "$bnb_dir")
    [ "$REH" = 0 ] || pargs+=(--shapes 32:64:256,4:64:256)
    say "peers: tools/gpu_peers.py (at most $t s$([ -n "$bnb_dir" ] && echo ", bitsandbytes from $tarball"))"
    t0=$SECONDS
    if command -v python3 >/dev/null 2>&1; then
        PYTHONUNBUFFERED=1 timeout -k 10 "$t" python3 tools/gpu_peers.py "${pargs[@]}" > "$plog" 2>&1 || rc=$?
    else
        echo "gpu_peers: not run: no python3 here" > "$plog"
        rc=4
    fi
    cat "$plog"
    local why
    why=$(grep -E 'cannot be imported|sees no usable|skipped:|not run:' "$plog" | head -n 1 | sed 's/^gpu_peers: //' || true)
    if [ "$REH" = 1 ]; then
        if [ "$rc" -ne 4 ] && [ "$rc" -ne 0 ] && [ "$rc" -ne 3 ]; then
            fail "peers: tools/gpu_peers.py exited $rc in the rehearsal: $(tail -n 1 "$plog")"
        fi
        cp tests/data/peers/sample.json "$json" || { fail "peers: cannot copy tests/data/peers/sample.json"; return 0; }
        peers_line="REHEARSAL: tools/gpu_peers.py exited $rc (${why:-no message}); tests/data/peers/sample.json played back"
    else
        case $rc in
            0) peers_line="ran in $((SECONDS - t0)) s" ;;
            3) peers_line="partly ran in $((SECONDS - t0)) s: ${why:-see gpu-check.log}"
               fail "peers: a peer did not run (${why:-see gpu-check.log})" ;;
            4) peers_line="skipped: ${why:-torch or a GPU missing}"
               say "peers $peers_line"
               return 0 ;;
            124|137) peers_line="stopped at its $t s limit"
               fail "peers: tools/gpu_peers.py stopped at its $t s limit" ;;
            *) peers_line="tools/gpu_peers.py exited $rc: $(tail -n 1 "$plog")"
               fail "peers: $peers_line" ;;
        esac
    fi
    [ -s "$json" ] || { fail "peers: no peers file written"; return 0; }
    local imported=""
    for pn in $PEER_NAMES; do
        grep -q "\"peer\": \"$pn\", \"op\"" "$json" || continue
        f=$out/peers-$pn.h5
        if timeout -k 5 60 "$BIN/qlab" import-peers "$json" --peer "$pn" -o "$f" > "$work/import.log" 2>&1; then
            cat "$work/import.log"
            imported="$imported $pn"
            RUN_NOTE[peers-$pn]="$(head -n 1 "$work/import.log" | sed 's/^qlab import-peers: //')"
            export_results "peers-$pn" "$f"
            pack_h5 "peers-$pn" "$f"
        else
            cat "$work/import.log"
            fail "peers: qlab import-peers --peer $pn: $(head -c 300 "$work/import.log")"
        fi
    done
    pack_h5 peers.json ""   # the raw file too, where nothing was imported
    peers_line="$peers_line; imported:${imported:- nothing}"
    say "peers: $peers_line"
}
if [ "$PEERS" = 1 ]; then
    run_peers
    write_summary "peers done"
fi

write_summary "finished"
if [ -n "${OUT:-}" ]; then
    bad=$(check_out_limits "$OUT")
    [ -z "$bad" ] || fail "what \$OUT holds would not all come back: $(echo $bad)"
fi
say "wrote $out/summary.md ($(ls "$out" | wc -l) files in $out)"
[ -z "$failed" ] || die "failed: ${failed#; } (see $out/summary.md)"
say "ok"
