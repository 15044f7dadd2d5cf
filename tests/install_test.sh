#!/usr/bin/env bash
# install_test.sh: `make install` gives a qlab that works from anywhere (part of
# `make test`). Installs into a temporary PREFIX, then, from a folder that holds no
# plots/, runs the installed example experiments/baseline.yaml with the installed
# binary and draws its figures: the binary must find PREFIX/share/qlab/plots from its
# own path. Also checks DESTDIR staging, the $QLAB_PLOTS override, and that the file
# records its provenance. Prints "N passed, N failed"; exits 1 on any failure.
#
# Environment: MAKE (default make) and QLAB_MAKE_ARGS (e.g. "B=build/cpu-only CUDA=0",
# the build whose qlab is installed; make test passes its own).
set -u
cd "$(dirname "$0")/.." || exit 2
MAKE=${MAKE:-make}
read -r -a make_args <<<"${QLAB_MAKE_ARGS:-}"
unset QLAB_PLOTS QLAB_PLOTS_DIR
T=$(mktemp -d /tmp/qlab-install.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/check_lib.sh   # the repository root is the working directory here

P=$T/q
expect "make install PREFIX=$P" 0 "$MAKE" --no-print-directory "${make_args[@]}" install PREFIX="$P"
for f in bin/qlab share/qlab/plots/style.gp share/qlab/plots/error_vs_threshold.gp \
         share/qlab/plots/history.gp share/qlab/experiments/baseline.yaml share/qlab/experiments/default.yaml; do
    [ -e "$P/$f" ] && ok "installed $f" || bad "installed $f"
done
[ -x "$P/bin/qlab" ] && ok "installed qlab is executable" || bad "installed qlab is executable"
n_gp=$(ls plots/*.gp | wc -l); n_inst=$(ls "$P"/share/qlab/plots/*.gp 2>/dev/null | wc -l)
[ "$n_gp" = "$n_inst" ] && ok "every plots/*.gp installed ($n_gp)" || bad "every plots/*.gp installed ($n_inst of $n_gp)"

expect "make install DESTDIR=... PREFIX=/opt/qlab" 0 \
    "$MAKE" --no-print-directory "${make_args[@]}" install DESTDIR="$T/stage" PREFIX=/opt/qlab
[ -x "$T/stage/opt/qlab/bin/qlab" ] && [ -e "$T/stage/opt/qlab/share/qlab/plots/style.gp" ] &&
    ok "DESTDIR stages under DESTDIR/PREFIX" || bad "DESTDIR stages under DESTDIR/PREFIX" "$(find "$T/stage" | head)"

# From a folder with no plots/ and no experiments/: only the installed files can serve.
mkdir -p "$T/elsewhere" "$T/x"
cd "$T/elsewhere" || exit 2
expect "installed qlab runs the installed baseline.yaml from elsewhere" 0 \
    "$P/bin/qlab" run "$P/share/qlab/experiments/baseline.yaml" -o "$T/x/b.h5" --no-progress
expect "installed qlab plots from elsewhere" 0 "$P/bin/qlab" plot "$T/x/b.h5" -o "$T/x/plots"
n_png=$(find "$T/x/plots" -name '*.png' -size +1k 2>/dev/null | wc -l)
[ "$n_png" -ge 1 ] && ok "figures drawn ($n_png PNG)" || bad "figures drawn (none)" "$OUT"
[ ! -e "$T/elsewhere/plots" ] && ok "nothing written into the working folder" || bad "nothing written into the working folder"

# $QLAB_PLOTS comes first: a folder without the scripts is an error naming the lookup.
mkdir -p "$T/empty"
OUT=$(QLAB_PLOTS="$T/empty" "$P/bin/qlab" plot "$T/x/b.h5" -o "$T/x/plots2" 2>&1); st=$?
[ "$st" = 2 ] && ok "QLAB_PLOTS without scripts: exit 2" || bad "QLAB_PLOTS without scripts: exit 2 (got $st)" "$OUT"
contains "QLAB_PLOTS without scripts: says the scripts are missing" "gnuplot scripts not found"
cp -r "$P/share/qlab/plots" "$T/myplots"
expect "QLAB_PLOTS pointing at a copy draws" 0 env QLAB_PLOTS="$T/myplots" "$P/bin/qlab" plot "$T/x/b.h5" -o "$T/x/plots3"

# The file records what made it (the same keys qlab info prints).
expect "show --provenance" 0 "$P/bin/qlab" show --provenance "$T/x/b.h5"
for k in qlab_version git_commit source_hash compiler build_flags hdf5_version libfyaml_version \
         openblas_config openblas_core openblas_threads cuda_runtime; do
    if grep -qE "^$k +[^ ]" <<<"$OUT" && ! grep -qE "^$k +not recorded" <<<"$OUT"; then ok "provenance has $k"
    else bad "provenance has $k" "$OUT"; fi
done
hdf5=$(sed -n 's/^hdf5_version *//p' <<<"$OUT")
OUT=$("$P/bin/qlab" info 2>&1)
contains "qlab info prints the same HDF5 version" "hdf5_version           $hdf5"

echo "install_test: $pass passed, $fail failed"
[ "$fail" = 0 ]
