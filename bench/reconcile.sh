#!/usr/bin/env bash
# Reconcile benchmark: `run --flexiti-dir` plus the ledger CSVs to the discrepancy CSV, one
# process per size and shape, database and email off (--dry-run --no-email).
#
#   bench/reconcile.sh              # 100k 1M 5M 10M, both shapes
#   bench/reconcile.sh 100k 1M      # only these sizes
#   FLEXITI_BENCH_SHAPES=files bench/reconcile.sh 1M     # only one shape
#   FLEXITI_BENCH_BIN=path/to/flexiti-recon bench/reconcile.sh   # that binary, not a build
#
# Two shapes of the same data, as users have them:
#   files  one large export file per endpoint (split in files of about 500k captures, bare JSON
#          lists) and ledger CSVs in the default layout;
#   pages  the API's pages as an audit bundle keeps them (wrapped lists of 1000 rows,
#          `{"captures":[...],"total":N,"total_pages":P}`, one file each) and ledger CSVs in
#          another layout (`;` between cells, decimal comma, day-first dates, other column
#          names in another order).
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
# A private copy of the binary, so that another build or benchmark cannot replace it mid-run.
bin="$data_root/flexiti-recon-reconcile-$$"
trap 'rm -f "$bin"' EXIT
day="2026-11-23"
seed=7

sizes=("$@")
[[ ${#sizes[@]} -gt 0 ]] || sizes=(100k 1M 5M 10M)
read -r -a shapes <<<"${FLEXITI_BENCH_SHAPES:-files pages}"

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

mkdir -p "$data_root"
if [[ -n "${FLEXITI_BENCH_BIN:-}" ]]; then
    # A binary built elsewhere (another commit, to compare).
    cp "$FLEXITI_BENCH_BIN" "$bin"
else
    echo "building the release binary" >&2
    # Touching main.rs makes cargo link (and so place) this checkout's binary even when a
    # target folder shared between checkouts holds another checkout's build.
    touch "$repo/src/main.rs"
    (cd "$repo" && cargo build --release --quiet)
    cp "$target/release/flexiti-recon" "$bin"
fi

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

# The `pages` shape of a size's data set: the same records and ledger rows, as wrapped pages of
# 1000 rows and a ledger in another layout.
prepare_pages() {
    local files_dir="$1" dir="$1-pages" csv
    if [[ ! -f "$dir/.complete" ]]; then
        echo "writing the pages shape into $dir" >&2
        rm -rf "$dir" && mkdir -p "$dir/flexiti" "$dir/ledger"
        # The generator writes compact rows, each starting with `{"capture_id":` or
        # `{"authorization_id":` (a nested return starts with `{"return_id":`).
        python3 - "$files_dir/flexiti" "$dir/flexiti" <<'PY'
import os, sys
src, out = sys.argv[1], sys.argv[2]
for name in sorted(os.listdir(src)):
    stem = name.split("-")[0].removesuffix(".json")
    key = {"captures": b'{"capture_id":', "authorizations": b'{"authorization_id":'}.get(stem)
    if key is None:
        continue
    with open(os.path.join(src, name), "rb") as f:
        data = f.read().strip()
    assert data[:1] == b"[" and data[-1:] == b"]", name
    body = data[1:-1].strip()
    rows = [] if not body else [r if i == 0 else key + r
                                for i, r in enumerate(body.split(b"," + key))]
    pages = max(1, (len(rows) + 999) // 1000)
    part_of = name.removesuffix(".json").split("-")[-1]
    for p in range(pages):
        part = b",".join(rows[p * 1000:(p + 1) * 1000])
        page = b'{"%s":[%s],"total":%d,"total_pages":%d}\n' % (stem.encode(), part, len(rows), pages)
        with open(os.path.join(out, "%s-%s-%05d.json" % (stem, part_of, p + 1)), "wb") as f:
            f.write(page)
PY
        for csv in "$files_dir"/ledger/*.csv; do
            awk -F, 'BEGIN { OFS = ";" }
                NR == 1 { print "Reference", "Total", "Date", "Shop", "Till", "Payment", "Type", "Curr"; next }
                { sub(/\./, ",", $7)
                  date = substr($1, 9, 2) "." substr($1, 6, 2) "." substr($1, 1, 4) substr($1, 11)
                  print $4, $7, date, $2, $3, $6, $5, $8 }' "$csv" >"$dir/ledger/$(basename "$csv")"
        done
        cp "$files_dir/expected.csv" "$dir/expected.csv"
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
delimiter = ";"
decimal_comma = true
sold_at_format = "%d.%m.%Y %H:%M:%S"

[ledger.columns]
sold_at = "Date"
store_id = "Shop"
register_id = "Till"
order_id = "Reference"
txn_type = "Type"
tender = "Payment"
amount = "Total"
currency = "Curr"

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
echo "| shape | ledger rows | captures | JSON files | JSON | CSV | wall | peak RSS | JSON parse | CSV ingest | join+classify | csv | correct |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|:--|"
for size in "${sizes[@]}"; do
  for shape in "${shapes[@]}"; do
    dir="$(prepare "$size")"
    case "$shape" in
        files) ;;
        pages) dir="$(prepare_pages "$dir")" ;;
        *) echo "unknown shape '$shape' (use files or pages)" >&2; exit 2 ;;
    esac
    json_files=$(ls "$dir"/flexiti/ | grep -c '\.json$')
    rows=$(($(cat "$dir"/ledger/*.csv | wc -l) - $(ls "$dir"/ledger/*.csv | wc -l)))
    captures=$(cat "$dir"/flexiti/captures*.json | grep -o '"capture_id":[0-9]*,"authorization_id"' | wc -l)
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
    printf "| %s | %s | %s | %s | %s MB | %s MB | %s s | %s | %s | %s | %s | %s | %s |\n" \
        "$shape" "$rows" "$captures" "$json_files" "$(mb "$json_bytes")" "$(mb "$csv_bytes")" \
        "$wall" "$rss" "$(s flexiti)" "$(s ledger)" "$(s reconcile)" "$(s csv)" "$correct"
    [[ "$shape" != "${shapes[0]}" ]] || results+=("$rows $wall")
  done
done

if ((${#results[@]} >= 2)); then
    n=${#results[@]}
    read -r n1 t1 <<<"${results[n - 2]}"
    read -r n2 t2 <<<"${results[n - 1]}"
    awk -v shape="${shapes[0]}" -v n1="$n1" -v t1="$t1" -v n2="$n2" -v t2="$t2" 'BEGIN {
        printf "\ngrowth exponent (wall, %s shape, %d → %d rows): %.2f (1.00 = linear)\n", shape, n1, n2, log(t2 / t1) / log(n2 / n1) }'
fi
