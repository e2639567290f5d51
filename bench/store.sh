#!/usr/bin/env bash
# Store benchmark: what storing a run's findings costs, on SQLite and on PostgreSQL, measured as
# a stored run minus a dry run (`--dry-run`, nothing stored) of the same input.
#
#   bench/store.sh                    # both backends, 3 repetitions
#   bench/store.sh sqlite             # one backend
#   FLEXITI_BENCH_REPEAT=5 bench/store.sh
#   FLEXITI_BENCH_BIN=/path/to/flexiti-recon bench/store.sh   # a given build, not this checkout's
#
# Input: one day of about 1M ledger rows over 16 stores (`sandbox generate`, seeded, cached in
# ${FLEXITI_BENCH_DIR:-$HOME/.cache/flexiti-recon/bench}), reconciled from files. A badly
# mapped ledger makes the findings: `[ledger.store_map]` sends two of the 16 stores to store
# codes Flexiti does not know, so every pair of those stores is a `store_mismatch` (about 100k
# findings with the generator's own). Three scenarios, each in a fresh database:
#
#   new     the first stored run: every finding is new;
#   again   the same run again: every finding is found again, still open;
#   half    the map fixed for one of the two stores: that store's findings (about half) resolve.
#
# Each scenario's stored run is compared with a dry run of the same config taken just before,
# so the difference is the database (connect, migrate, lock, the run's transaction) plus the
# audit bundle (the input files' SHA-256). The `store` and `bundle` columns are the job's own
# stage times from its JSON log. PostgreSQL: ${FLEXITI_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}
# (the server's admin URL); the benchmark creates and drops the database flexiti_bench_store.
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
data_root="${FLEXITI_BENCH_DIR:-$HOME/.cache/flexiti-recon/bench}"
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flexiti-recon/target}"
pg_admin="${FLEXITI_BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/postgres}"
pg_db="flexiti_bench_store"
repeat="${FLEXITI_BENCH_REPEAT:-3}"
day="2026-11-23"
seed=7
orders=800000
stores=16

backends=("$@")
[[ ${#backends[@]} -gt 0 ]] || backends=(sqlite postgres)

if [[ ! -x /usr/bin/time ]]; then
    echo "installing GNU time for /usr/bin/time -v" >&2
    apt-get install -y time >/dev/null
fi

bin_dir="$data_root/store-bench"
mkdir -p "$bin_dir"
bin="$bin_dir/flexiti-recon"
if [[ -n ${FLEXITI_BENCH_BIN:-} ]]; then
    # Another build (e.g. an older commit's, to compare), used as it is.
    cp "$FLEXITI_BENCH_BIN" "$bin"
else
    echo "building the release binary" >&2
    touch "$repo/src/main.rs"
    (cd "$repo" && cargo build --release --quiet)
    cp "$CARGO_TARGET_DIR/release/flexiti-recon" "$bin"
fi

store_ids=$(seq -f "00-%05g" 10001 $((10000 + stores)) | paste -sd,)
dir="$data_root/store-1M-seed$seed-$stores-stores"
if [[ ! -f "$dir/.complete" ]]; then
    echo "generating $orders orders over $stores stores into $dir" >&2
    rm -rf "$dir"
    "$bin" --log-format json sandbox generate --out "$dir" --orders "$orders" --seed "$seed" \
        --from "$day" --days 1 --flexiti-files 2 --ledger-files 2 --stores "$store_ids" >/dev/null
    # `wrong2`: two stores mapped to codes Flexiti does not know; `wrong1`: one of them fixed.
    for name in wrong2 wrong1; do
        {
            cat <<EOF
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

[ledger.store_map]
"00-10002" = "99-10002"
EOF
            [[ $name == wrong2 ]] && echo '"00-10001" = "99-10001"'
            cat <<EOF

[email]
policy = "never"
EOF
        } >"$dir/$name.toml"
    done
    touch "$dir/.complete"
fi

out="$dir/out"
mkdir -p "$out"

fresh_database() { # backend
    rm -rf "$dir/state"
    if [[ $1 == postgres ]]; then
        psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
        psql -q "$pg_admin" -c "CREATE DATABASE $pg_db" >/dev/null
    fi
}

database_url() { # backend
    if [[ $1 == postgres ]]; then
        # The admin URL with the benchmark's database instead of its own.
        local base="${pg_admin%%\?*}" query=""
        [[ $pg_admin == *\?* ]] && query="?${pg_admin#*\?}"
        echo "${base%/*}/$pg_db$query"
    else
        echo "sqlite://$dir/state/flexiti-recon.db"
    fi
}

stage_ms() { # stage name, json log file
    local v
    v=$(sed -n "s/.*\"stage\":\"$1\",\"ms\":\([0-9]*\).*/\1/p" "$2" | tail -1)
    echo "${v:-0}"
}

wall_ms() { # time -v output
    awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0;
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.0f", s * 1000 }' "$1"
}

# One run; prints "wall_ms store_ms bundle_ms rss_mb" and leaves stdout/log in $out/$label.*.
run_once() { # label, backend, config, --dry-run or nothing
    local label="$1" backend="$2" config="$3" mode="${4:-}" status
    set +e
    FLEXITI_DATABASE_URL="$(database_url "$backend")" /usr/bin/time -v -o "$out/$label.time" \
        "$bin" --log-format json run --config "$dir/$config.toml" --flexiti-dir "$dir/flexiti" \
        --no-email --csv "$out/$label.csv" --date "$day" $mode >"$out/$label.stdout" 2>"$out/$label.log"
    status=$?
    set -e
    if ((status != 0)); then
        echo "$label exited with $status; see $out/$label.log" >&2
        exit 1
    fi
    local rss_kb
    rss_kb=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$out/$label.time")
    echo "$(wall_ms "$out/$label.time") $(stage_ms store "$out/$label.log") $(stage_ms bundle "$out/$label.log") $((rss_kb * 1024 / 1000000))"
}

# "N new, M still open, K resolved" from a run's summary.
changes_of() {
    sed -n 's/.*since the last run: \(.*\)$/\1/p' "$out/$1.stdout"
}

findings_of() {
    echo $(($(wc -l <"$out/$1.csv") - 1))
}

# Median and spread of a list of milliseconds: "1.23 s (1.10 to 1.40)". The median of an even
# count is the mean of the middle two.
summary() {
    printf '%s\n' "$@" | sort -n | awk '{ v[NR] = $1 } END {
        m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
        printf "%.2f s (%.2f to %.2f)", m / 1000, v[1] / 1000, v[NR] / 1000 }'
}

echo "load average before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| backend | scenario | findings | changes | dry run | stored run | stored − dry | store stage | bundle stage | peak RSS |"
echo "|---|---|---:|:--|---:|---:|---:|---:|---:|---:|"
for backend in "${backends[@]}"; do
    declare -A dry=() stored=() diff=() store=() bundle=() rss=()
    for ((r = 1; r <= repeat; r++)); do
        fresh_database "$backend"
        for scenario in new again half; do
            config=wrong2
            [[ $scenario == half ]] && config=wrong1
            read -r dw _ _ _ < <(run_once "$backend-$scenario-dry" "$backend" "$config" --dry-run)
            read -r sw sm bm mb < <(run_once "$backend-$scenario" "$backend" "$config")
            dry[$scenario]+="$dw "
            stored[$scenario]+="$sw "
            diff[$scenario]+="$((sw - dw)) "
            store[$scenario]+="$sm "
            bundle[$scenario]+="$bm "
            rss[$scenario]="$mb MB"
            echo "$backend $scenario #$r: dry ${dw} ms, stored ${sw} ms, store stage ${sm} ms ($(changes_of "$backend-$scenario"))" >&2
        done
    done
    for scenario in new again half; do
        # shellcheck disable=SC2086
        printf "| %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n" "$backend" "$scenario" \
            "$(findings_of "$backend-$scenario")" "$(changes_of "$backend-$scenario")" \
            "$(summary ${dry[$scenario]})" "$(summary ${stored[$scenario]})" \
            "$(summary ${diff[$scenario]})" "$(summary ${store[$scenario]})" \
            "$(summary ${bundle[$scenario]})" "${rss[$scenario]}"
    done
    unset dry stored diff store bundle rss
done
[[ " ${backends[*]} " == *" postgres "* ]] &&
    psql -q "$pg_admin" -c "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
