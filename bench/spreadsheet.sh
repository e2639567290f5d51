#!/usr/bin/env bash
# The exports in a real spreadsheet: LibreOffice Calc (headless) opens each CSV of an export the
# way a person's import would, saves it as .xlsx, and the cells are read back from the .xlsx's XML
# and checked against the CSV text:
#   - amounts are numbers, equal to the exported amount to the cent;
#   - business dates are dates (a date number format, the same day);
#   - accents survive;
#   - no formula ran (no formula cell; a formula-like reference stays text).
# Four exports: default (`,` `.`), --excel, --semicolon, --decimal-comma --excel (read with a
# French-Canadian locale, where the comma is the decimal separator).
#
# Usage: bench/spreadsheet.sh            (installs libreoffice-calc with apt-get when missing)
# Prints one line per file and check, then PASS or FAIL; exits 1 on any failure.
set -euo pipefail
cd "$(dirname "$0")/.."
start=$(date +%s)

if ! command -v soffice >/dev/null 2>&1; then
  echo "installing libreoffice-calc"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends libreoffice-calc >/dev/null
fi
installed=$(date +%s)

export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/flexiti-recon/target}"
# Built as the tests build it (same features), so a target folder the tests used is reused.
bin="${FLEXITI_RECON_BIN:-}"
if [ -z "$bin" ]; then
  cargo test --quiet --no-run --test exports 2>/dev/null
  bin="$CARGO_TARGET_DIR/debug/flexiti-recon"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# The sample day, plus rows a spreadsheet could get wrong: an accented store, a reference that
# looks like a formula, a rejected row with accents.
cp samples/ledger/ledger.csv "$work/ledger.csv"
cat >>"$work/ledger.csv" <<'ROWS'
2026-11-23 11:00:00,Montréal-Est,R01,=1+2,SALE,FLEXITI,1234.50,CAD
2026-11-23 11:05:00,Québec-Centre,R02,ORD-ÉTÉ-1,SALE,FLEXITI,douze,CAD
ROWS
(
  cd "$work"
  "$bin" run --date 2026-11-23 --no-email --flexiti-dir "$OLDPWD/samples/flexiti" \
    --ledger ledger.csv >/dev/null 2>&1 || true
  "$bin" export --from 2026-11-23 --to 2026-11-23 --out default >/dev/null 2>&1
  "$bin" export --from 2026-11-23 --to 2026-11-23 --out excel --excel >/dev/null 2>&1
  "$bin" export --from 2026-11-23 --to 2026-11-23 --out semicolon --semicolon >/dev/null 2>&1
  "$bin" export --from 2026-11-23 --to 2026-11-23 --out decimal-comma --decimal-comma --excel >/dev/null 2>&1
)
exported=$(date +%s)

# CSV import options: separator, text delimiter ("), UTF-8 (76), from line 1, no column types,
# locale, quoted fields not forced to text, detect special numbers (dates), -, -, keep spaces,
# -, evaluate formulas (as a spreadsheet that runs them would).
convert() { # folder separator-code locale
  local dir="$work/$1"
  soffice --headless --norestore "-env:UserInstallation=file://$work/profile" \
    --infilter="CSV:$2,34,76,1,,$3,false,true,false,false,false,-1,true" \
    --convert-to xlsx --outdir "$dir/xlsx" "$dir"/*.csv >/dev/null 2>&1
}
convert default 44 1033
convert excel 44 1033
convert semicolon 59 1033
convert decimal-comma 59 3084
converted=$(date +%s)

status=0
python3 - "$work" <<'PY' || status=$?
import csv, datetime, decimal, re, sys, zipfile
import xml.etree.ElementTree as ET

NS = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main"}
AMOUNTS = {"flexiti_amount", "ledger_amount", "delta", "flexiti_sales", "flexiti_returns",
           "flexiti_net", "ledger_sales", "ledger_returns", "ledger_net", "net_difference"}
DATES = {"business_date", "utc_date"}
work = sys.argv[1]
failures = 0
checked = {"amounts": 0, "dates": 0, "accents": 0, "texts": 0}

def column_index(ref):
    letters = re.match(r"[A-Z]+", ref).group(0)
    n = 0
    for ch in letters:
        n = n * 26 + ord(ch) - 64
    return n - 1

def read_xlsx(path):
    z = zipfile.ZipFile(path)
    shared = []
    if "xl/sharedStrings.xml" in z.namelist():
        for si in ET.fromstring(z.read("xl/sharedStrings.xml")).findall("m:si", NS):
            shared.append("".join(t.text or "" for t in si.iter("{%s}t" % NS["m"])))
    styles = ET.fromstring(z.read("xl/styles.xml"))
    formats = {int(f.get("numFmtId")): f.get("formatCode")
               for f in styles.findall("m:numFmts/m:numFmt", NS)}
    xfs = [int(x.get("numFmtId", "0")) for x in styles.findall("m:cellXfs/m:xf", NS)]
    sheet = ET.fromstring(z.read("xl/worksheets/sheet1.xml"))
    rows, formulas = [], 0
    for row in sheet.findall("m:sheetData/m:row", NS):
        cells = {}
        for c in row.findall("m:c", NS):
            if c.find("m:f", NS) is not None:
                formulas += 1
            v = c.find("m:v", NS)
            kind = c.get("t", "n")
            fmt = xfs[int(c.get("s", "0"))] if xfs else 0
            if kind == "s" and v is not None:
                value = shared[int(v.text)]
            elif kind == "inlineStr":
                value = "".join(t.text or "" for t in c.iter("{%s}t" % NS["m"]))
            else:
                value = v.text if v is not None else ""
            cells[column_index(c.get("r"))] = (kind, value, formats.get(fmt, fmt))
        rows.append(cells)
    return rows, formulas

def is_date_format(fmt):
    if isinstance(fmt, int):
        return 14 <= fmt <= 22
    f = re.sub(r'"[^"]*"|\[[^\]]*\]', "", fmt.lower())
    return "y" in f and "d" in f

def fail(msg):
    global failures
    failures += 1
    print("  FAIL", msg)

for mode, delim, comma in [("default", ",", False), ("excel", ",", False),
                           ("semicolon", ";", False), ("decimal-comma", ";", True)]:
    import glob, os
    for path in sorted(glob.glob(f"{work}/{mode}/*.csv")):
        name = os.path.basename(path)
        with open(path, encoding="utf-8-sig", newline="") as f:
            table = list(csv.reader(f, delimiter=delim))
        header = table[0]
        xlsx = f"{work}/{mode}/xlsx/{name[:-4]}.xlsx"
        if not os.path.exists(xlsx):
            fail(f"{mode}/{name}: not converted")
            continue
        rows, formulas = read_xlsx(xlsx)
        if formulas:
            fail(f"{mode}/{name}: {formulas} formula cells")
        for i, record in enumerate(table[1:], start=1):
            cells = rows[i] if i < len(rows) else {}
            for j, text in enumerate(record):
                if text == "":
                    continue
                kind, value, fmt = cells.get(j, ("missing", "", 0))
                col = header[j]
                where = f"{mode}/{name} row {i + 1} {col} {text!r}"
                if col in AMOUNTS:
                    checked["amounts"] += 1
                    want = decimal.Decimal(text.replace(",", ".") if comma else text)
                    if kind != "n":
                        fail(f"{where}: a {kind} cell {value!r}, not a number")
                    elif decimal.Decimal(value).quantize(decimal.Decimal("0.01")) != want:
                        fail(f"{where}: the number is {value}")
                elif col in DATES:
                    checked["dates"] += 1
                    day = datetime.date.fromisoformat(text)
                    serial = (day - datetime.date(1899, 12, 30)).days
                    if kind != "n" or not is_date_format(fmt) or float(value) != serial:
                        fail(f"{where}: {kind} {value!r} format {fmt!r}, not the date")
                elif any(ord(ch) > 127 for ch in text):
                    checked["accents"] += 1
                    if value != text:
                        fail(f"{where}: reads back as {value!r}")
                elif text.startswith("'="):
                    checked["texts"] += 1
                    if kind == "n" or value not in (text, text[1:]):
                        fail(f"{where}: a formula-like text became {kind} {value!r}")
        print(f"  {mode:<14} {name:<22} {len(table) - 1:>3} rows checked")
print("note: amounts keep the General cell format (12.00 shows as 12): a CSV carries no format")
print("cells checked:", ", ".join(f"{v} {k}" for k, v in checked.items()))
if checked["accents"] == 0 or checked["texts"] == 0 or checked["dates"] == 0:
    fail("the data set did not exercise accents, formula-like text and dates")
print("PASS" if failures == 0 else f"FAIL ({failures})")
sys.exit(1 if failures else 0)
PY
end=$(date +%s)
echo "time: install $((installed - start)) s, build+export $((exported - installed)) s, convert $((converted - exported)) s, check $((end - converted)) s, total $((end - start)) s"
exit $status
