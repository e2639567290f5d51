#!/usr/bin/env bash
# Suggestion benchmark: precision and recall of the likely counterparts proposed for unmatched
# records, and the time they add to a reconcile, on a generated data set with injected typos.
#
#   bench/suggest.sh              # 1M ledger rows, 3 runs
#   bench/suggest.sh 100k 5       # another size, another number of runs
#
# The data set is `sandbox generate --typo-per-mille 10` (seeded, so always the same bytes),
# cached in ${FLEXITI_BENCH_DIR:-$HOME/.cache/flexiti-recon/bench}. Each run is
# `run --flexiti-dir … --dry-run --no-email --csv`; the engine logs how long the suggestions
# took (`suggest_ms`), the job logs the reconcile stage (`stage=reconcile ms=…`) and
# /usr/bin/time the wall. Precision = right suggestions / suggestions made; recall = right
# suggestions / (2 × injected typos: each typo is two findings that should name each other).
# Needs python3 (the suggestion column is quoted CSV). FLEXITI_BENCH_BIN=path runs that binary
# instead of building the release one.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_root="${FLEXITI_BENCH_DIR:-$HOME/.cache/flexiti-recon/bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flexiti-recon/target}"
target="$CARGO_TARGET_DIR"
bin="$data_root/flexiti-recon-suggest-$$"
day="2026-11-23"
seed=7
size="${1:-1M}"
runs="${2:-3}"

case "$size" in
    *k | *K) rows=$((${size%?} * 1000)) ;;
    *m | *M) rows=$((${size%?} * 1000000)) ;;
    *[0-9]) rows="$size" ;;
    *) echo "unknown size '$size' (use 100k, 1M or a number)" >&2; exit 2 ;;
esac

if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time for /usr/bin/time -v" >&2
    apt-get install -y time >/dev/null
fi

mkdir -p "$data_root"
trap 'rm -f "$bin"' EXIT
if [[ -n "${FLEXITI_BENCH_BIN:-}" ]]; then
    echo "using $FLEXITI_BENCH_BIN" >&2
    cp "$FLEXITI_BENCH_BIN" "$bin"
else
    echo "building the release binary" >&2
    touch "$repo/src/main.rs"
    (cd "$repo" && cargo build --release --quiet)
    cp "$target/release/flexiti-recon" "$bin"
fi

dir="$data_root/$size-seed$seed-typos"
if [[ ! -f "$dir/.complete" ]]; then
    echo "generating $size ledger rows with typos into $dir" >&2
    rm -rf "$dir"
    files=$(((rows + 499999) / 500000))
    ((files >= 2)) || files=2
    "$bin" sandbox generate --out "$dir" --orders $((rows * 4 / 5)) --seed "$seed" \
        --from "$day" --days 1 --typo-per-mille 10 --flexiti-files "$files" --ledger-files 2 >/dev/null
    cat >"$dir/bench.toml" <<TOML
merchant = "Bench"
time_zone = "America/Toronto"
match_window_days = 1
amount_tolerance = "0.00"
data_dir = "state"

[flexiti]
environment = "http://127.0.0.1:9/unused"
client_id = "bench"

[ledger]
files = ["ledger/*.csv"]

[email]
policy = "never"
TOML
    touch "$dir/.complete"
fi

score() { # discrepancies.csv typos.csv → "made right wanted"
    python3 - "$1" "$2" <<'PY'
import csv, sys
want = {}
with open(sys.argv[2], newline="") as f:
    for t in csv.DictReader(f):
        want[("missing_in_ledger", t["flexiti_reference"])] = t["ledger_reference"]
        want[("missing_in_flexiti", t["ledger_reference"])] = t["flexiti_reference"]
made = right = 0
with open(sys.argv[1], newline="") as f:
    for d in csv.DictReader(f):
        if d["suggested_reference"]:
            made += 1
            right += want.get((d["category"], d["reference"])) == d["suggested_reference"]
print(made, right, len(want))
PY
}

rows_found=$(($(cat "$dir"/ledger/*.csv | wc -l) - $(ls "$dir"/ledger/*.csv | wc -l)))
typos=$(($(wc -l <"$dir/typos.csv") - 1))
echo "$rows_found ledger rows, $typos injected typos; $runs runs"
echo
echo "| run | wall | reconcile stage | suggestions | added | added / reconcile stage | added / wall | made | right | precision | recall |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
stats=()
for ((i = 1; i <= runs; i++)); do
    out="$dir/out-$i"
    rm -rf "$out" && mkdir -p "$out"
    /usr/bin/time -v -o "$out/time.txt" "$bin" --log-format json run --config "$dir/bench.toml" \
        --flexiti-dir "$dir/flexiti" --dry-run --no-email --csv "$out/discrepancies.csv" \
        --date "$day" >"$out/stdout.txt" 2>"$out/log.json"
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.3f", s }' "$out/time.txt")
    stage=$(sed -n 's/.*"stage":"reconcile","ms":\([0-9]*\).*/\1/p' "$out/log.json" | tail -1)
    suggest=$(sed -n 's/.*"suggest_ms":\([0-9]*\).*/\1/p' "$out/log.json" | tail -1)
    made_n=$(sed -n 's/.*"suggested":\([0-9]*\).*/\1/p' "$out/log.json" | tail -1)
    read -r made right wanted <<<"$(score "$out/discrepancies.csv" "$dir/typos.csv")"
    line=$(awk -v i="$i" -v w="$wall" -v st="$stage" -v sg="$suggest" -v n="$made_n" -v m="$made" \
        -v r="$right" -v wt="$wanted" 'BEGIN {
        printf "| %d | %.2f s | %.3f s | %d | %.3f s | %.1f%% | %.1f%% | %d | %d | %.4f | %.4f |",
            i, w, st / 1000, n, sg / 1000, 100 * sg / st, 100 * sg / 1000 / w, m, r,
            (m ? r / m : 0), r / wt }')
    echo "$line"
    stats+=("$(awk -v w="$wall" -v st="$stage" -v sg="$suggest" 'BEGIN { printf "%.6f %.6f %.6f", sg / 1000, 100 * sg / st, 100 * sg / 1000 / w }')")
done

printf '%s\n' "${stats[@]}" | awk '
    { a[NR] = $1; b[NR] = $2; c[NR] = $3 }
    function med(x, n,   i, j, t, y) { for (i = 1; i <= n; i++) y[i] = x[i];
        for (i = 1; i <= n; i++) for (j = i + 1; j <= n; j++) if (y[j] < y[i]) { t = y[i]; y[i] = y[j]; y[j] = t }
        return n % 2 ? y[(n + 1) / 2] : (y[n / 2] + y[n / 2 + 1]) / 2 }
    function lo(x, n,   i, m) { m = x[1]; for (i = 2; i <= n; i++) if (x[i] < m) m = x[i]; return m }
    function hi(x, n,   i, m) { m = x[1]; for (i = 2; i <= n; i++) if (x[i] > m) m = x[i]; return m }
    END { n = NR
        printf "\nadded by suggestions: median %.3f s (%.3f to %.3f); %.1f%% of the reconcile stage (%.1f to %.1f); %.2f%% of the wall (%.2f to %.2f)\n",
            med(a, n), lo(a, n), hi(a, n), med(b, n), lo(b, n), hi(b, n), med(c, n), lo(c, n), hi(c, n) }'
