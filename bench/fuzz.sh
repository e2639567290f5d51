#!/usr/bin/env bash
# Fuzzing on stable Rust: runs every test whose name contains `fuzz_` (proptest properties over
# arbitrary bytes and strings: the ledger reader, the amount parser, the config loader, the
# Flexiti wire parsers, ...) in the library and every test binary, in release mode, with many
# more cases than CI runs.
#
#   bench/fuzz.sh              # 2M cases in total
#   bench/fuzz.sh 10M          # 10M cases in total (also 500k, or a plain number)
#   FUZZ_PROFILE=dev bench/fuzz.sh 200k   # the debug build CI already has (slower per case)
#
# The total is shared evenly among the fuzz tests (PROPTEST_CASES per test). A test stops at
# its first failing case (a panic or a broken property), shrinks it to a minimal input and
# saves it under proptest-regressions/, so CI replays it from then on. Prints the cases run and
# the failures found; exits 1 when there is one.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flexiti-recon/target}"
cd "$repo"

count_of() {
    case "$1" in
        *k | *K) echo $((${1%?} * 1000)) ;;
        *m | *M) echo $((${1%?} * 1000000)) ;;
        *[0-9]) echo "$1" ;;
        *) echo "unknown size '$1' (use 500k, 2M, 10M or a number)" >&2; exit 2 ;;
    esac
}
total=$(count_of "${1:-2M}")
profile=(--release)
[[ "${FUZZ_PROFILE:-release}" == release ]] || profile=()

echo "building the test binaries (${FUZZ_PROFILE:-release})" >&2
cargo test "${profile[@]}" --tests --no-run --quiet 2>&1 | grep -v '^ *Executable' >&2 || true

tests=$(cargo test "${profile[@]}" --tests --quiet -- --list fuzz_ 2>/dev/null | grep -c ': test$' || true)
if [[ "$tests" -eq 0 ]]; then
    echo "no test named fuzz_* found" >&2
    exit 2
fi
per_test=$(((total + tests - 1) / tests))
echo "$tests fuzz tests, $per_test cases each" >&2

log=$(mktemp)
trap 'rm -f "$log"' EXIT
start=$(date +%s)
set +e
PROPTEST_CASES=$per_test cargo test "${profile[@]}" --tests --no-fail-fast -- fuzz_ --test-threads 2 \
    >"$log" 2>&1
set -e
seconds=$(($(date +%s) - start))

passed=$(grep -cE '^test .*fuzz_.* \.\.\. ok$' "$log" || true)
failed=$(grep -cE '^test .*fuzz_.* \.\.\. FAILED$' "$log" || true)
grep -E '^test .*fuzz_.* \.\.\. (ok|FAILED)$' "$log" | sed 's/^/  /'
if [[ "$failed" -gt 0 ]]; then
    echo "failures (minimal inputs are saved under proptest-regressions/):"
    grep -E 'minimal failing input|Test failed|panicked at' "$log" | sed 's/^/  /' | head -40
fi
# A passing property ran all its cases; a failing one stopped at its first failure.
echo "fuzz tests: $tests, passed: $passed, failed: $failed"
echo "cases run: at least $((passed * per_test)) in ${seconds}s"
echo "panics or broken properties found: $failed"
[[ "$failed" -eq 0 && $((passed + failed)) -eq "$tests" ]]
