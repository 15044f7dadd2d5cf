# check_lib.sh: the pass/fail helpers of the shell test scripts (sourced by
# tests/run_cli_tests.sh and tests/install_test.sh).
#   ok NAME / bad NAME [DETAIL]   count a check and print it
#   expect NAME STATUS CMD...     run CMD, check its exit status, keep its output in $OUT
#   contains NAME TEXT            check that $OUT holds TEXT
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && sed 's/^/     /' <<<"$2"; }
expect() {
    local name=$1 want=$2; shift 2
    OUT=$("$@" 2>&1); local got=$?
    if [ "$got" = "$want" ]; then ok "$name"; else bad "$name (exit $got, wanted $want)" "$OUT"; fi
}
contains() { if grep -qF -- "$2" <<<"$OUT"; then ok "$1"; else bad "$1 (no '$2')" "$OUT"; fi; }
