#!/usr/bin/env bash
# Reconcile benchmark: `run --flexiti-dir` plus the ledger CSVs to the discrepancy CSV, one
# process per size, database and email off (--dry-run --no-email).
#
#   bench/reconcile.sh              # 100k 1M 5M 10M
#   bench/reconcile.sh 100k 1M      # only these sizes
#
# Data sets are generated once with `sandbox generate` (seeded, so always the same bytes) and
# cached in ${FLEXITI_BENCH_DIR:-$HOME/.cache/flexiti-recon/bench}. Each run is measured with
# /usr/bin/time -v (wall, peak RSS); stage times come from the job's `stage=… ms=…` log lines.
# At every size the discrepancy CSV is compared with the generator's expected.csv (the
# findings it injected).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_root="${FLEXITI_BENCH_DIR:-$HOME/.cache/flexiti-recon/bench}"
# The same build folder as .ci/run, so a benchmark after the tests does not rebuild polars.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flexiti-recon/target}"
target="$CARGO_TARGET_DIR"
bin="$data_root/flexiti-recon"
day="2026-11-23"
seed=7

sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(100k 1M 5M 10M)

rows_of() {
    case "$1" in
        *k | *K) echo $((${1%?} * 1000)) ;;
        *m | *M) echo $((${1%?} * 1000000)) ;;
        *[0-9]) echo "$1" ;;
        *) echo "unknown size '$1' (use 100k, 1M, 5M, 10M or a number)" >&2; exit 2 ;;
    esac
}

if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time for /usr/bin/time -v" >&2
    apt-get install -y time >/dev/null
fi

echo "building the release binary" >&2
# Touching main.rs makes cargo link (and so place) this checkout's binary even when a target
# folder shared between checkouts holds another checkout's build; the private copy keeps it
# from being replaced while the benchmark runs.
touch "$repo/src/main.rs"
(cd "$repo" && cargo build --release --quiet)
mkdir -p "$data_root"
cp "$target/release/flexiti-recon" "$bin"

# A size's data set: flexiti/*.json, ledger/*.csv, expected.csv and the bench config.
prepare() {
    local size="$1" rows dir files started
    rows="$(rows_of "$size")"
    dir="$data_root/$size-seed$seed"
    if [[ ! -f "$dir/.complete" ]]; then
        echo "generating $size ledger rows into $dir" >&2
        rm -rf "$dir"
        # The generator adds lighter days around the reconciled one and other tenders: about
        # 1.25 ledger rows per order, so ask for 80% of the rows as orders.
        # One Flexiti file per ~500k captures, so both cores parse JSON.
        files=$(((rows + 499999) / 500000))
        ((files >= 2)) || files=2
        started=$(date +%s%N)
        "$bin" --log-format json sandbox generate --out "$dir" --orders $((rows * 4 / 5)) --seed "$seed" \
            --from "$day" --days 1 --flexiti-files "$files" --ledger-files 2 >/dev/null
        awk -v ns=$(($(date +%s%N) - started)) -v size="$size" \
            'BEGIN { printf "generated %s in %.2f s\n", size, ns / 1e9 }' >&2
        cat >"$dir/bench.toml" <<EOF
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
EOF
        touch "$dir/.complete"
    fi
    echo "$dir"
}

# The comparable columns of a findings CSV, sorted (header dropped).
findings_key() {
    awk -F, 'NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        { print $col["business_date"] "," $col["category"] "," $col["reference"] "," $col["kind"] "," $col["flexiti_amount"] "," $col["ledger_amount"] }' "$1" | LC_ALL=C sort
}

stage_ms() { # stage name, json log file
    sed -n "s/.*\"stage\":\"$1\",\"ms\":\([0-9]*\).*/\1/p" "$2" | tail -1
}

mb() { awk -v b="$1" 'BEGIN { printf "%.0f", b / 1e6 }'; }

results=()
echo "| ledger rows | captures | JSON | CSV | wall | peak RSS | JSON parse | CSV ingest | join+classify | csv | correct |"
echo "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|"
for size in "${sizes[@]}"; do
    dir="$(prepare "$size")"
    rows=$(($(cat "$dir"/ledger/*.csv | wc -l) - $(ls "$dir"/ledger/*.csv | wc -l)))
    captures=$(grep -o '"capture_id":[0-9]*,"authorization_id"' "$dir"/flexiti/captures*.json | wc -l)
    json_bytes=$(cat "$dir"/flexiti/*.json | wc -c)
    csv_bytes=$(cat "$dir"/ledger/*.csv | wc -c)
    out="$dir/out"
    rm -rf "$out" && mkdir -p "$out"
    set +e
    /usr/bin/time -v -o "$out/time.txt" "$bin" --log-format json run --config "$dir/bench.toml" \
        --flexiti-dir "$dir/flexiti" --dry-run --no-email --csv "$out/discrepancies.csv" \
        --date "$day" >"$out/stdout.txt" 2>"$out/log.json"
    status=$?
    set -e
    if ((status != 0)); then
        echo "run for $size exited with $status; see $out/log.json" >&2
        exit 1
    fi
    wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.2f", s }' "$out/time.txt")
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$out/time.txt")
    rss=$(awk -v k="$rss_kb" 'BEGIN { printf "%.0f MB", k * 1024 / 1e6 }')
    diff_out=$(comm -3 <(findings_key "$dir/expected.csv") <(findings_key "$out/discrepancies.csv") || true)
    expected_n=$(($(wc -l <"$dir/expected.csv") - 1))
    if [[ -z "$diff_out" ]]; then
        correct="exact ($expected_n findings)"
    else
        missing=$(comm -23 <(findings_key "$dir/expected.csv") <(findings_key "$out/discrepancies.csv") | wc -l)
        extra=$(comm -13 <(findings_key "$dir/expected.csv") <(findings_key "$out/discrepancies.csv") | wc -l)
        correct="DIFFERS: $missing missing, $extra extra of $expected_n"
    fi
    s() { local v; v=$(stage_ms "$1" "$out/log.json"); awk -v m="${v:-0}" 'BEGIN { printf "%.2f s", m / 1000 }'; }
    printf "| %s | %s | %s MB | %s MB | %s s | %s | %s | %s | %s | %s | %s |\n" \
        "$rows" "$captures" "$(mb "$json_bytes")" "$(mb "$csv_bytes")" "$wall" "$rss" \
        "$(s flexiti)" "$(s ledger)" "$(s reconcile)" "$(s csv)" "$correct"
    results+=("$rows $wall")
done

if ((${#results[@]} >= 2)); then
    n=${#results[@]}
    read -r n1 t1 <<<"${results[n - 2]}"
    read -r n2 t2 <<<"${results[n - 1]}"
    awk -v n1="$n1" -v t1="$t1" -v n2="$n2" -v t2="$t2" 'BEGIN {
        printf "\ngrowth exponent (wall, %d → %d rows): %.2f (1.00 = linear)\n", n1, n2, log(t2 / t1) / log(n2 / n1) }'
fi
