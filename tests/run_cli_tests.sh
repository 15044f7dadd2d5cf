#!/usr/bin/env bash
# run_cli_tests.sh: end-to-end tests of the qlab command line (exit codes, messages,
# files never overwritten, kill -9 and --resume, signals). Run from the repo root by
# `make test`; prints "N passed, N failed" and exits non-zero on any failure.
set -u
QLAB=${QLAB:-./build/qlab}
T=$(mktemp -d /tmp/qlab-cli.XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "${BASH_SOURCE[0]}")/check_lib.sh"

expect "help exits 0" 0 $QLAB --help
contains "help lists run" "run CONFIG"
expect "unknown command exits 2" 2 $QLAB frobnicate
contains "unknown command is named" "frobnicate"
expect "run without config exits 2" 2 $QLAB run
expect "run --help exits 0" 0 $QLAB run --help
expect "bad --shard exits 2" 2 $QLAB run tests/data/tiny.yaml --shard 3/2
expect "missing config file exits 2" 2 $QLAB run "$T/none.yaml"
contains "missing config is named" "none.yaml"

# A config with an unknown key: exit 2, file:line named, no results file written.
sed 's/^seed: 3/sed: 3/' tests/data/tiny.yaml > "$T/bad.yaml"
expect "unknown key exits 2" 2 $QLAB run "$T/bad.yaml" -o "$T/bad.h5"
contains "unknown key names file and line" "bad.yaml:5"
contains "unknown key suggests the right one" "seed"
[ ! -e "$T/bad.h5" ] && ok "bad config writes no file" || bad "bad config writes no file"

# Text that crashes libfyaml 0.7 (a tab before a block scalar indicator inside an
# explicit key): parsed in a child first, so it is exit 2 with the place named, for a
# config and for compare's tolerance file alike.
printf 'name: t\n? a:\t>p\n' > "$T/crash.yaml"
expect "config that crashes the YAML parser exits 2" 2 $QLAB run "$T/crash.yaml" -o "$T/crash.h5"
contains "the parser crash is located" "crash.yaml:2:5: a tab before the block scalar indicator"
[ ! -e "$T/crash.h5" ] && ok "parser crash writes no file" || bad "parser crash writes no file"

expect "bad --set exits 2" 2 $QLAB run tests/data/tiny.yaml --set quant.scheme=absmx -o "$T/x.h5"
contains "bad --set names the value" "absmx"

expect "dry run exits 0" 0 $QLAB run tests/data/tiny.yaml --dry-run
contains "dry run prints the count" "points"
# --backend cuda: a binary without the cuda backend refuses it even in a dry run (it
# would fail on every machine); one with it accepts it here, GPU or not (a login node).
if $QLAB info | grep -q "backend cuda: not built"; then
    expect "dry run with --backend cuda in a build without CUDA exits 2" 2 \
        $QLAB run tests/data/tiny.yaml --backend cuda --dry-run
    contains "it says why the build has no CUDA" "this qlab was built without CUDA ("
else
    expect "dry run with --backend cuda in a CUDA build exits 0" 0 \
        $QLAB run tests/data/tiny.yaml --backend cuda --dry-run
fi

$QLAB run tests/data/tiny.yaml --set name=other --set workload.m=16 -o "$T/d.h5" --no-progress >/dev/null 2>&1
expect "tiny run exits 0" 0 $QLAB run tests/data/tiny.yaml -o "$T/a.h5" --no-progress
[ -s "$T/a.h5" ] && ok "tiny run writes its file" || bad "tiny run writes its file"
n_points=$($QLAB run tests/data/tiny.yaml --dry-run | tail -n 1 | awk '{print $1}')
expect "show exits 0" 0 $QLAB show "$T/a.h5"
contains "show names the experiment" "tiny"
expect "export exits 0" 0 $QLAB export "$T/a.h5"
rows=$(($(wc -l <<<"$OUT") - 1))
[ "$rows" = "$n_points" ] && ok "export has one row per point ($rows)" || bad "export rows $rows != $n_points"
head -n 1 <<<"$OUT" | grep -q "rel_err" && ok "export header names rel_err" || bad "export header"
expect "export csv exits 0" 0 $QLAB export "$T/a.h5" --format csv --table samples
expect "export bad table exits 2" 2 $QLAB export "$T/a.h5" --table nope
# --force never writes the table over the results being exported (nor their journal).
cp "$T/a.h5" "$T/self.h5"
sum=$(md5sum < "$T/self.h5")
expect "export -o onto its own input exits 2, --force or not" 2 $QLAB export "$T/self.h5" -o "$T/./self.h5" --force
contains "it says the output is the results file itself" "is the results file '$T/self.h5' itself"
[ "$(md5sum < "$T/self.h5")" = "$sum" ] && ok "the results file is untouched" || bad "the results file was overwritten"
: > "$T/self.h5.journal"
expect "export -o onto its input's journal exits 2" 2 $QLAB export "$T/self.h5" -o "$T/self.h5.journal" --force
rm -f "$T/self.h5.journal"
if command -v h5dump >/dev/null; then
    expect "h5dump reads the file" 0 h5dump -H "$T/a.h5"
fi

# A run that measures no error writes NaN, never 0, in its error columns; show prints
# '-', and compare against a run that measured errors says UNCERTAIN, not SAME.
expect "a latency-only run exits 0" 0 $QLAB run tests/data/tiny.yaml --set 'measure=[latency]' -o "$T/lat.h5" --no-progress
expect "its export exits 0" 0 $QLAB export "$T/lat.h5"
nan_rows=$(awk -F'\t' 'NR==1{for(i=1;i<=NF;i++) c[$i]=i; next}
    $c["rel_err"]=="nan" && $c["sqnr_db"]=="nan" && $c["cosine"]=="nan" && $c["x_rel_err"]=="nan" {n++} END{print n+0}' <<<"$OUT")
[ "$nan_rows" = "$n_points" ] && ok "every unmeasured error column is nan ($nan_rows rows)" ||
    bad "every unmeasured error column is nan ($nan_rows of $n_points)" "$(head -3 <<<"$OUT")"
expect "show of the latency-only run exits 0" 0 $QLAB show "$T/lat.h5"
awk '$1 == "absmax" {print $7, $8}' <<<"$OUT" | grep -qvx -- '- -' &&
    bad "show prints - for unmeasured errors" "$OUT" || ok "show prints - for unmeasured errors"
expect "compare of a measured base with an unmeasured new exits 0" 0 $QLAB compare "$T/a.h5" "$T/lat.h5"
contains "it says why accuracy is not compared" "new measured no error: accuracy not compared"
contains "those points are UNCERTAIN, none SAME" "0 worse, 0 better, $n_points uncertain"
grep -q "provenance:" <<<"$OUT" && bad "no provenance line when only measurement differs" "$OUT" ||
    ok "no provenance line when only measurement differs"
expect "a tolerance file that crashes the YAML parser exits 2" 2 $QLAB compare "$T/a.h5" "$T/a.h5" --tol "$T/crash.yaml"
contains "the tolerance file's parser crash is located" "crash.yaml:2:5: a tab before the block scalar indicator"
printf 'rtol:\n  rel_err: abc\n' > "$T/tol-bad.yaml"
expect "a bad tolerance value exits 2" 2 $QLAB compare "$T/a.h5" "$T/a.h5" --tol "$T/tol-bad.yaml"
contains "the bad tolerance value is located" "tol-bad.yaml:2:3: rtol rel_err: 'abc' is not a number >= 0"
: > "$T/tol-empty.yaml"
expect "an empty tolerance file exits 2" 2 $QLAB compare "$T/a.h5" "$T/a.h5" --tol "$T/tol-empty.yaml"
contains "the empty tolerance file is named" "tol-empty.yaml: empty; a tolerance file is a mapping"
grep -q "\[ERR\]" <<<"$OUT" && bad "libfyaml prints nothing of its own" "$OUT" || ok "libfyaml prints nothing of its own"
expect "a missing tolerance file exits 2" 2 $QLAB compare "$T/a.h5" "$T/a.h5" --tol "$T/tol-none.yaml"
contains "the missing tolerance file says why" "tol-none.yaml: cannot open: No such file"
expect "plot of the latency-only run exits 0" 0 $QLAB plot "$T/lat.h5" -o "$T/latplot"
contains "plot says why there are no error figures" "measured no error"
[ -s "$T/latplot/throughput.png" ] && ok "a run without errors still draws its timing figures" ||
    bad "a run without errors still draws its timing figures" "$OUT"
# Figures left in the folder by another file are named, not passed off as current.
$QLAB plot "$T/a.h5" -o "$T/mixplot" >/dev/null 2>&1
sleep 1.1
expect "plot into a folder holding another file's figures exits 0" 0 $QLAB plot "$T/lat.h5" -o "$T/mixplot"
contains "it says which figures it did not draw" "older figures in $T/mixplot were not drawn by this call from $T/lat.h5"
# --only: the named figures and no other; a name that is no figure is exit 2 before
# anything is drawn, with the names there are.
expect "plot --only exits 0" 0 $QLAB plot "$T/a.h5" -o "$T/onlyplot" --only error_vs_threshold,memory
n_png=$(find "$T/onlyplot" -name '*.png' | wc -l)
n_named=$(find "$T/onlyplot" \( -name 'error_vs_threshold*.png' -o -name 'memory*.png' \) | wc -l)
[ "$n_png" -gt 0 ] && [ "$n_png" = "$n_named" ] && ok "plot --only draws only the named figures" ||
    bad "plot --only draws only the named figures" "$(find "$T/onlyplot" -name '*.png')"
grep -q "^skipped" <<<"$OUT" && bad "plot --only says nothing of the others" "$OUT" ||
    ok "plot --only says nothing of the others"
expect "plot --only with an unknown figure exits 2" 2 $QLAB plot "$T/a.h5" -o "$T/onlybad" --only error_vs_treshold
contains "the unknown figure is named with the known ones" "no figure named 'error_vs_treshold' (built in: error_vs_threshold,"
[ ! -e "$T/onlybad" ] && ok "an unknown --only figure creates nothing" || bad "an unknown --only figure creates nothing"
for bad_only in ',memory' 'memory,' 'memory,,error_vs_threshold'; do
    expect "plot --only '$bad_only' exits 2" 2 $QLAB plot "$T/a.h5" -o "$T/onlybad" --only "$bad_only"
    contains "plot --only '$bad_only' names the empty name" "an empty figure name"
done
expect "plot --only '' exits 2" 2 $QLAB plot "$T/a.h5" -o "$T/onlybad" --only ''
expect "plot --only twice exits 2" 2 $QLAB plot "$T/a.h5" -o "$T/onlybad" --only memory --only error_vs_threshold
contains "plot --only twice says so" "--only given twice"
[ ! -e "$T/onlybad" ] && ok "bad --only lists create nothing" || bad "bad --only lists create nothing"
# A declared figure with two lines of one scheme (threshold 0 and 6) tells them apart
# by dash (style.gp's var list), and fp16, which ignores the threshold, is not
# labelled with one. The gnuplot call is recorded by a stand-in that runs the real one.
cat > "$T/decl.yaml" <<'YAML'
name: decl
workload: {kind: synthetic, m: 16, k: [64, 128], n: 32, x: {outlier_cols: 0.05, outlier_scale: 20}}
quant: {scheme: [fp16, absmax], x_granularity: row, w_granularity: channel, threshold: [0, 6]}
measure: [error]
plots:
  - {name: err_k, x: k, y: rel_err, series: [scheme, threshold]}
YAML
$QLAB run "$T/decl.yaml" -o "$T/decl.h5" --no-progress >/dev/null 2>&1
printf '#!/bin/sh\nprintf "%%s\\n" "$2" >> "%s"\nexec gnuplot "$@"\n' "$T/gp-args" > "$T/gp-rec"
chmod +x "$T/gp-rec"
expect "the declared figure draws" 0 env QLAB_GNUPLOT="$T/gp-rec" $QLAB plot "$T/decl.h5" -o "$T/declplot" --only err_k
grep -q "var='0 0 1'" "$T/gp-args" && ok "the second absmax line gets its own dash" ||
    bad "the second absmax line gets its own dash" "$(cat "$T/gp-args")"
[ -s "$T/declplot/err_k.png" ] && ok "the declared figure is a PNG" || bad "the declared figure is a PNG"
# The natural A/B, threshold 0 against 6: outlier_weights is unset at t = 0, so the
# points pair without it, and the report says so.
$QLAB compare "$T/decl.h5" --ab threshold=0,6 > "$T/ab06" 2>&1
st=$?
[ "$st" != 2 ] && ok "compare --ab threshold=0,6 pairs the points (exit $st)" ||
    bad "compare --ab threshold=0,6 pairs the points" "$(cat "$T/ab06")"
grep -q "paired without outlier_weights (- in base, fp16 in new)" "$T/ab06" &&
    grep -q "scheme=absmax.*rel_err.*BETTER" "$T/ab06" && ok "it says what it paired without, and t = 6 is better" ||
    bad "it says what it paired without, and t = 6 is better" "$(cat "$T/ab06")"

# Never overwrite: -o onto an existing file is refused and leaves it as it was.
sum=$(md5sum < "$T/a.h5")
expect "existing -o file exits 2" 2 $QLAB run tests/data/tiny.yaml -o "$T/a.h5"
contains "existing -o file suggests --resume" "continue it with --resume"
[ "$(md5sum < "$T/a.h5")" = "$sum" ] && ok "existing file untouched" || bad "existing file changed"
expect "unwritable directory exits 2" 2 $QLAB run tests/data/tiny.yaml -o /proc/nope/x.h5
expect "show of a non-HDF5 file exits 2" 2 $QLAB show tests/data/tiny.yaml
expect "resume of a complete file exits 2" 2 $QLAB run --resume "$T/a.h5"

# Error columns of a results file (everything but timing, memory peaks and ids);
# fails (empty output, status 1) when the file cannot be exported.
errcols() {
    $QLAB export "$1" >/dev/null 2>&1 || return 1
    $QLAB export "$1" | awk -F'\t' 'NR==1{for(i=1;i<=NF;i++) h[i]=$i; next}
        {s=""; for(i=1;i<=NF;i++) if (h[i] ~ /^(m|k|n|scheme|x_granularity|w_granularity|threshold|rel_err|sqnr_db|max_abs_err|cosine|x_rel_err|w_rel_err|outlier_cols|w_bytes|status)$/) s=s $i "\t"; print s}' | sort
}

# Two files hold the same non-empty error numbers for the same points.
same_errcols() {
    local a b
    a=$(errcols "$1") && b=$(errcols "$2") && [ -n "$a" ] && [ "$a" = "$b" ]
}

# kill -9 in the middle of a run, then --resume: the same error numbers as a clean run.
slow="--set timing.min_time_s=0.05 --set timing.timeout_s=0.2"
$QLAB run tests/data/tiny.yaml $slow -o "$T/k.h5" --no-progress >/dev/null 2>&1 &
pid=$!
sleep 1.2
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
expect "killed file is readable" 0 $QLAB show "$T/k.h5"
expect "resume after kill exits 0" 0 $QLAB run --resume "$T/k.h5" --no-progress
if same_errcols "$T/k.h5" "$T/a.h5"; then ok "resumed run equals an uninterrupted run"
else bad "resumed run equals an uninterrupted run" "$(diff <(errcols "$T/k.h5") <(errcols "$T/a.h5") | head)"; fi

# SIGTERM stops cleanly: exit 1, file marked interrupted, resumable.
$QLAB run tests/data/tiny.yaml $slow -o "$T/s.h5" --no-progress >/dev/null 2>&1 &
pid=$!
sleep 1
kill -TERM $pid; wait $pid; st=$?
[ "$st" = 1 ] && ok "SIGTERM exits 1" || bad "SIGTERM exits 1 (got $st)"
expect "interrupted file shows" 0 $QLAB show "$T/s.h5"
contains "interrupted status recorded" "interrupted"
expect "resume after SIGTERM exits 0" 0 $QLAB run --resume "$T/s.h5" --no-progress

# Shards: two halves merged equal the unsharded run; merge refuses bad inputs.
expect "shard 0/2 runs" 0 $QLAB run tests/data/tiny.yaml --shard 0/2 -o "$T/s0.h5" --no-progress
expect "shard 1/2 runs" 0 $QLAB run tests/data/tiny.yaml --shard 1/2 -o "$T/s1.h5" --no-progress
expect "merge of the shards exits 0" 0 $QLAB merge "$T/s1.h5" "$T/s0.h5" -o "$T/m.h5"
if same_errcols "$T/m.h5" "$T/a.h5"; then ok "merged shards equal the unsharded run"
else bad "merged shards equal the unsharded run" "$(diff <(errcols "$T/m.h5") <(errcols "$T/a.h5") | head)"; fi
expect "merge with a missing shard exits 2" 2 $QLAB merge "$T/s0.h5" -o "$T/m2.h5"
contains "missing points are reported" "missing"
expect "merge with a duplicate exits 2" 2 $QLAB merge "$T/s0.h5" "$T/s1.h5" "$T/s0.h5" -o "$T/m3.h5"
contains "duplicate point is reported" "is in both"
expect "merge of another experiment exits 2" 2 $QLAB merge "$T/s0.h5" "$T/d.h5" -o "$T/m4.h5"
sum=$(md5sum < "$T/m.h5")
expect "merge onto an existing file exits 2" 2 $QLAB merge "$T/s1.h5" "$T/s0.h5" -o "$T/m.h5"
if grep -q -- "--resume" <<<"$OUT"; then bad "merge refusal does not suggest --resume (merge has none)" "$OUT"
else ok "merge refusal does not suggest --resume (merge has none)"; fi
[ "$(md5sum < "$T/m.h5")" = "$sum" ] && ok "merge leaves an existing output untouched" || bad "merge changed an existing output"
[ ! -e "$T/m2.h5" ] && [ ! -e "$T/m3.h5" ] && ok "refused merges write nothing" || bad "refused merges write nothing"

# Memory columns: w_bytes split into codes, scales, second-level scales and outlier
# columns, written to /points and exported; fp8 with block scales is refused up front.
cat > "$T/mem.yaml" <<'YAML'
name: mem
backend: cpu
seed: 5
workload:
  kind: synthetic
  m: 4
  k: 256
  n: 64
  x: {dist: normal, std: 1.0, outlier_cols: 0.02, outlier_scale: 20}
quant:
  scheme: [fp16, zeropoint, fp8_e4m3, nf4_dq]
  w_granularity: [channel, block]
  block: 64
  threshold: 6
measure: [error, memory]
YAML
expect "memory sweep dry run exits 0" 0 $QLAB run "$T/mem.yaml" --dry-run
contains "fp8 block points are skipped with a reason" "fp8 schemes have no block scales"
expect "memory sweep runs" 0 $QLAB run "$T/mem.yaml" -o "$T/mem.h5" --no-progress
expect "memory sweep exports" 0 $QLAB export "$T/mem.h5"
# scheme w_granularity code scale scale2 outlier w_bytes per row; zeropoint at 6 sees
# the outlier columns (fp16 outlier weights: 2 n per column)
parts=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { g = $c["w_granularity"]; print $c["scheme"], g == "" ? "-" : g, $c["w_code_bytes"], $c["w_scale_bytes"], $c["w_scale2_bytes"],
            $c["w_outlier_bytes"], $c["w_bytes"], $c["outlier_cols"], $c["status"] }' <<<"$OUT")
bad_sum=$(awk '$9 == "ok" && $3 + $4 + $5 + $6 != $7' <<<"$parts")
[ -z "$bad_sum" ] && [ "$(awk '$9 == "ok"' <<<"$parts" | wc -l)" = 5 ] &&
    ok "w_bytes is the sum of its parts on every point" || bad "w_bytes is the sum of its parts" "$parts"
grep -qx "fp16 - 32768 0 0 0 32768 0 ok" <<<"$parts" && ok "fp16: codes only" || bad "fp16: codes only" "$parts"
grep -qx "nf4_dq block 8192 256 8 0 8456 0 ok" <<<"$parts" &&
    ok "nf4_dq: packed codes, int8 block scales, one second-level run + mean" || bad "nf4_dq parts" "$parts"
zp=$(awk '$1 == "zeropoint" && $2 == "block" && $3 == 16384 && $4 == 8 * 64 * 4 && $5 == 0 && $8 > 0 &&
          $6 == 2 * 64 * $8' <<<"$parts")
[ -n "$zp" ] && ok "zeropoint block: scales + zero points, fp16 outlier columns" || bad "zeropoint block parts" "$parts"
fp8=$(awk '$1 == "fp8_e4m3" && $2 == "channel" && $3 == 16384 && $4 == 4 * 64 && $6 == 2 * 64 * $8' <<<"$parts")
[ -n "$fp8" ] && ok "fp8 channel: a float32 scale per channel" || bad "fp8 channel parts" "$parts"
expect "show of the memory sweep exits 0" 0 $QLAB show "$T/mem.h5"
contains "show splits nf4_dq's bits per weight" "4.129  4 + 0.125 + 0.004 dq"
expect "fp8 with block scales asked for directly exits 2" 2 $QLAB run "$T/mem.yaml" --dry-run \
    --set quant.scheme=fp8_e5m2 --set quant.w_granularity=block
contains "fp8 block error names the key" "key 'quant.w_granularity'"

# Verdicts: presets in filters, A/B across one axis, a compare with nothing in common.
$QLAB run experiments/baseline.yaml -o "$T/v1.h5" --no-progress >/dev/null 2>&1
$QLAB run experiments/baseline.yaml --set workload.x.outlier_scale=10 -o "$T/v2.h5" --no-progress >/dev/null 2>&1
expect "history matches a preset by its expansion" 0 $QLAB history "$T/v1.h5" "$T/v1.h5" --metric rel_err \
    --point scheme=llm_int8 --point m=16 --point outlier_weights=fp16 -o "$T/hist"
expect "compare of files with no common point exits 2" 2 $QLAB compare "$T/v1.h5" "$T/v2.h5"
contains "it names the axis that differs" "x_outlier_scale: base 15, new 10"
expect "compare --ab across two files pairs on the other axes" 1 $QLAB compare "$T/v1.h5" "$T/v2.h5" \
    --ab x_outlier_scale=15,10
contains "the A/B compare matched every point" "40 points matched"
expect "compare --ab within one file" 1 $QLAB compare "$T/v1.h5" --ab scheme=absmax,zeropoint
contains "the A/B header names both sides" "A/B on scheme: absmax in base, zeropoint in new"

# Layer dumps: a defect of one layer fails that layer's points only (exit 1), a layer
# not selected costs nothing (exit 0), a file-level defect is exit 2.
# layer<TAB>status<TAB>message of every row of a results file
layer_status() {
    $QLAB export "$1" | awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { print $c["layer"] "\t" $c["status"] "\t" $c["message"] }'
}
cat > "$T/dump.yaml" <<'YAML'
name: dumpcheck
backend: cpu
workload: {kind: dump, path: tests/data/dumps/moe.h5, layers: all}
quant: {scheme: [absmax, zeropoint]}
measure: [error]
YAML
expect "moe dump: the idle expert not selected exits 0" 0 $QLAB run "$T/dump.yaml" --no-progress \
    --set 'workload.layers=["moe.gate", "moe.experts.0.w1", "moe.experts.2.w1"]' -o "$T/moe-sel.h5"
expect "moe dump: every layer exits 1" 1 $QLAB run "$T/dump.yaml" --no-progress -o "$T/moe-all.h5"
contains "moe dump: the failure names the layer and the dataset" "/layers/002-moe.experts.1.w1/input: declared shape [0, 64] is empty"
rows=$(layer_status "$T/moe-all.h5")
[ "$(grep -c $'\tfailed\t' <<<"$rows")" = 2 ] && [ "$(grep -c $'\tok\t' <<<"$rows")" = 6 ] &&
    [ -z "$(grep $'\tfailed\t' <<<"$rows" | grep -v '^002-moe.experts.1.w1')" ] &&
    ok "moe dump: only the idle expert's points fail in /points" || bad "moe dump: only the idle expert's points fail" "$rows"
expect "broken dump: every layer exits 1" 1 $QLAB run "$T/dump.yaml" --no-progress \
    --set workload.path=tests/data/dumps/broken.h5 -o "$T/broken.h5"
rows=$(layer_status "$T/broken.h5")
for want in "001-nan.input.*/layers/001-nan.input/input: value 327 (row 5, column 7) is NaN" \
            "002-bias.length.*/layers/002-bias.length/bias: length 63" \
            "003-no.weight.*/layers/003-no.weight/weight: missing" \
            "004-output.shape.*/layers/004-output.shape/output: shape \[15, 64\]"; do
    [ "$(grep -c "^$want" <<<"$rows")" = 2 ] && ok "broken dump: ${want%%.\**} fails naming its dataset" ||
        bad "broken dump: ${want%%.\**} fails naming its dataset" "$rows"
done
[ "$(grep -c $'^00[05]-ok\\.[a-z]*\tok\t' <<<"$rows")" = 4 ] && ok "broken dump: the good layers run" ||
    bad "broken dump: the good layers run" "$rows"
expect "broken dump: the good layers alone exit 0" 0 $QLAB run "$T/dump.yaml" --no-progress \
    --set workload.path=tests/data/dumps/broken.h5 --set 'workload.layers="ok.*"' -o "$T/broken-ok.h5"
expect "a dump that is not HDF5 exits 2" 2 $QLAB run "$T/dump.yaml" --set workload.path=tests/data/tiny.yaml --dry-run
contains "it says so" "not an HDF5 file"
expect "a results file as a dump exits 2" 2 $QLAB run "$T/dump.yaml" --set workload.path="$T/a.h5" --dry-run
contains "it names the format" "expected 'qlab-dump'"

# A stored output is checked against X W^T + b: a Conv1D weight stored [in, out] fails
# its layer and the message says which layout matches; correct dumps still run.
expect "conv1d dump exits 1" 1 $QLAB run "$T/dump.yaml" --no-progress \
    --set workload.path=tests/data/dumps/conv1d.h5 -o "$T/conv1d.h5"
rows=$(layer_status "$T/conv1d.h5")
[ "$(grep -c '^000-h.0.attn.c_proj.failed.*stored output matches X W + b, not X W^T + b.*transpose it' <<<"$rows")" = 2 ] &&
    ok "conv1d dump: the square [in, out] weight is caught by its output" || bad "conv1d dump: square [in, out] weight" "$rows"
[ "$(grep -c '^001-h.0.mlp.c_fc.failed.*weight looks stored \[in, out\]' <<<"$rows")" = 2 ] &&
    ok "conv1d dump: the [64, 128] one by its shapes" || bad "conv1d dump: the [64, 128] one" "$rows"
[ "$(grep -c $'^002-lm_head\tok' <<<"$rows")" = 2 ] && ok "conv1d dump: the correct layer runs" ||
    bad "conv1d dump: the correct layer runs" "$rows"
expect "tiny dump with float16 outputs passes the output check" 0 $QLAB run "$T/dump.yaml" --no-progress \
    --set workload.path=tests/data/dumps/tiny.h5 -o "$T/tinydump.h5"

# Shards: a shard that would get no point, or one out of range, is an error.
expect "an empty shard exits 2" 2 $QLAB run tests/data/tiny.yaml --shard 25/30 -o "$T/sh25.h5" --no-progress
contains "it says why" "shard 25 gets no point: tiny has $n_points points"
[ ! -e "$T/sh25.h5" ] && ok "an empty shard writes no file" || bad "an empty shard writes no file"
expect "an empty shard's dry run exits 2" 2 $QLAB run tests/data/tiny.yaml --shard $n_points/$((n_points + 1)) --dry-run
expect "the last non-empty shard runs" 0 $QLAB run tests/data/tiny.yaml --shard $((n_points - 1))/$n_points --dry-run
contains "it holds one point" "1 points"

# Signals: the first Ctrl-C says what happens, a second stops at once; the file opens
# and resumes either way.
cat > "$T/slow.yaml" <<'YAML'
name: slow
backend: cpu
seed: 1
workload: {kind: synthetic, m: 8, k: 64, n: 16}
quant: {scheme: [absmax, zeropoint]}
measure: [error, latency]
timing: {warmup: 1, min_samples: 3, max_noise: 0.5, min_time_s: 2.0, timeout_s: 4.0}
YAML
$QLAB run "$T/slow.yaml" -o "$T/int2.h5" --no-progress >/dev/null 2>"$T/int2.log" &
pid=$!
for _ in $(seq 50); do grep -q "points on" "$T/int2.log" && break; sleep 0.1; done
sleep 0.5
kill -INT $pid; sleep 0.3
grep -q "stopping after the current point" "$T/int2.log" && grep -q "Ctrl-C again stops at once" "$T/int2.log" &&
    grep -q -- "--resume $T/int2.h5" "$T/int2.log" && ok "first Ctrl-C says it stops after the current point" ||
    bad "first Ctrl-C says it stops after the current point" "$(cat "$T/int2.log")"
t0=$(date +%s%N); kill -INT $pid; wait $pid; st=$?; ms=$((($(date +%s%N) - t0) / 1000000))
[ "$st" = 1 ] && [ "$ms" -lt 1000 ] && ok "second Ctrl-C stops at once (exit $st in $ms ms; a point takes 2 s)" ||
    bad "second Ctrl-C stops at once (exit $st after $ms ms)" "$(cat "$T/int2.log")"
expect "after a second Ctrl-C the file opens" 0 $QLAB show "$T/int2.h5"
expect "after a second Ctrl-C the file resumes" 0 $QLAB run --resume "$T/int2.h5" --no-progress
[ "$($QLAB export "$T/int2.h5" | tail -n +2 | wc -l)" = 2 ] && ok "the resumed file holds every point" ||
    bad "the resumed file holds every point" "$($QLAB export "$T/int2.h5")"

# One writer at a time: --resume while the run still goes on is refused (exit 2) and
# changes nothing; once that run is stopped, --resume goes on.
$QLAB run "$T/slow.yaml" -o "$T/lock.h5" --no-progress >/dev/null 2>"$T/lock.log" &
pid=$!
for _ in $(seq 50); do grep -q "points on" "$T/lock.log" && break; sleep 0.1; done
expect "--resume of a file another qlab is writing exits 2" 2 $QLAB run --resume "$T/lock.h5" --no-progress
contains "it says another qlab is writing it" "another qlab is writing this file"
kill -9 $pid 2>/dev/null; wait $pid 2>/dev/null
expect "plot of the killed run exits 0" 0 $QLAB plot "$T/lock.h5" -o "$T/lockplot"
contains "plot says the run is partial" "is a partial run (status running"
expect "after that run stops, --resume goes on" 0 $QLAB run --resume "$T/lock.h5" --no-progress
[ "$($QLAB export "$T/lock.h5" | tail -n +2 | wc -l)" = 2 ] && ok "the resumed file holds every point once" ||
    bad "the resumed file holds every point once" "$($QLAB export "$T/lock.h5")"
expect "--resume of a complete file exits 2" 2 $QLAB run --resume "$T/lock.h5"
[ ! -e "$T/lock.h5.journal" ] && ok "a refused --resume leaves no journal behind" ||
    bad "a refused --resume leaves no journal behind" "$(ls -la "$T")"

# The ViT commands' mistakes (no model needed: they are refused before it loads).
expect "census without images exits 2" 2 $QLAB census vit-s14
contains "it says what is missing" "missing --image"
expect "dump vit-s14 of a missing image exits 2" 2 $QLAB dump vit-s14 --image "$T/none.png" -o "$T/v.h5"
contains "it names the image" "none.png: cannot open the image"
[ ! -e "$T/v.h5" ] && ok "no dump file is left" || bad "no dump file is left"
expect "census of a file that is no image exits 2" 2 $QLAB census vit-s14 --image tests/data/sentences.txt
contains "it says what the file is not" "neither a PNG nor a JPEG"

# qlab import-peers: tests/data/peers/sample.json (hand-made, in the format of
# tools/gpu_peers.py) into results files of backend peer:torch / peer:bitsandbytes.
P=tests/data/peers/sample.json
expect "import-peers of two peers without --peer exits 2" 2 $QLAB import-peers "$P" -o "$T/peers.h5"
contains "import-peers asks for --peer" "--peer torch"
[ ! -e "$T/peers.h5" ] && ok "import-peers refused writes no file" || bad "import-peers refused writes no file"
expect "import-peers --peer torch exits 0" 0 $QLAB import-peers "$P" --peer torch -o "$T/peers-torch.h5"
contains "import-peers counts the points" "4 points of peer:torch (20 samples)"
expect "import-peers --peer bitsandbytes exits 0" 0 $QLAB import-peers "$P" --peer bitsandbytes -o "$T/peers-bnb.h5"
expect "show of the peers file exits 0" 0 $QLAB show "$T/peers-torch.h5"
contains "show names the peer backend" "backend: peer:torch"
contains "show gives the failed point's message" "self.size(0) needs to be greater than 16"
# The medians of /points are the sample's (the median of each point's "total" samples).
expect "export of the peers file exits 0" 0 $QLAB export "$T/peers-torch.h5"
meds=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    { printf "%s %s %sx%sx%s %s %g %g %g|", $c["backend"], $c["status"], $c["m"], $c["k"], $c["n"], $c["scheme"],
      $c["median_us"], $c["fp16_median_us"], $c["speedup_vs_fp16"] }' <<<"$OUT")
want="peer:torch ok 32x64x256 fp16 12 12 1|peer:torch ok 32x64x256 absmax 9 12 1.33333|peer:torch ok 4x64x256 fp16 6 6 1|peer:torch failed 4x64x256 absmax 0 0 0|"
[ "$meds" = "$want" ] && ok "peer medians equal the sample's" || bad "peer medians equal the sample's" "got:  $meds
want: $want"
$QLAB export "$T/peers-bnb.h5" > "$T/bnb.tsv" 2>&1
awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
    $c["threshold"] == 6 && $c["outlier_weights"] == "dequant" && $c["median_us"] == 30 && $c["outlier_cols"] == 1 { n++ }
    END { exit n == 1 ? 0 : 1 }' "$T/bnb.tsv" &&
    ok "bitsandbytes threshold 6 is LLM.int8() with dequantized outlier weights" ||
    bad "bitsandbytes threshold 6 is LLM.int8() with dequantized outlier weights" "$(cat "$T/bnb.tsv")"
expect "peer samples export" 0 $QLAB export "$T/peers-torch.h5" --table samples
[ "$(grep -c $'\tgemm_i8\t' <<<"$OUT")" = 5 ] && [ "$(grep -c $'\ttotal\t' <<<"$OUT")" = 15 ] &&
    ok "every sample of every stage is in /samples" || bad "every sample of every stage is in /samples" "$OUT"
# compare pairs the peers' points with qlab's of the same axes.
$QLAB run experiments/gpu-first.yaml --backend cpu --set 'workload.m=[32]' --set 'workload.k=[64]' \
    --set 'workload.n=[256]' --set 'timing={warmup: 1, min_samples: 3, max_noise: 0.5, min_time_s: 0.001, timeout_s: 0.01}' \
    -o "$T/gf.h5" --no-progress >/dev/null 2>&1
OUT=$($QLAB compare "$T/gf.h5" "$T/peers-bnb.h5" 2>&1); st=$?
[ "$st" -le 1 ] && ok "compare of qlab's file and a peers file runs (exit $st: timings differ either way)" ||
    bad "compare of qlab's file and a peers file runs (exit $st)" "$OUT"
contains "compare matches the peers' points" "2 points matched"
expect "import-peers onto an existing file exits 2" 2 $QLAB import-peers "$P" --peer torch -o "$T/peers-torch.h5"
# Bad input: exit 2, no file, the file, line and field named.
sed 's/"m": 4, "k": 64/"m": "four", "k": 64/' "$P" > "$T/badm.json"
expect "import-peers of a bad m exits 2" 2 $QLAB import-peers "$T/badm.json" --peer torch -o "$T/badm.h5"
line=$(grep -n '"m": "four"' "$T/badm.json" | head -n 1 | cut -d: -f1)
contains "a bad m names file, line and field" "badm.json:$line:"
contains "a bad m names the field" "points[4].m: must be an integer >= 1"
[ ! -e "$T/badm.h5" ] && ok "bad peers input writes no file" || bad "bad peers input writes no file"
sed 's/"op": "int8_mm"/"op": "int4_mm"/' "$P" > "$T/badop.json"
expect "import-peers of an unknown op exits 2" 2 $QLAB import-peers "$T/badop.json" --peer torch -o "$T/badop.h5"
contains "an unknown op is named" "points[1].op: unknown op 'int4_mm'"
sed 's/"total": \[6.0, 5.0/"total": [6.0, -5.0/' "$P" > "$T/badt.json"
expect "import-peers of a negative sample exits 2" 2 $QLAB import-peers "$T/badt.json" --peer torch -o "$T/badt.h5"
contains "a negative sample is named" "points[4].stages.total: sample 1 must be a time in microseconds > 0"
sed '/"format_version"/d' "$P" > "$T/badv.json"
expect "import-peers without format_version exits 2" 2 $QLAB import-peers "$T/badv.json" --peer torch -o "$T/badv.h5"
contains "a missing member is named" "format_version: missing"
printf '{"format": "qlab-peers",\n "points": [\n' > "$T/trunc.json"
expect "import-peers of broken JSON exits 2" 2 $QLAB import-peers "$T/trunc.json" -o "$T/trunc.h5"
contains "broken JSON names the file" "trunc.json"

echo "cli: $pass passed, $fail failed"
[ "$fail" = 0 ]
