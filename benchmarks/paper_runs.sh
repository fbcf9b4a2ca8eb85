#!/usr/bin/env bash
# The paper-protocol runs of REPORT.md items 1, 2 and 5, one after another, each continued
# from wherever it stopped in its run directory:
#
#   benchmarks/paper_runs.sh b:2 a:1 a:2          # PRESET-SUFFIX:SEED, e.g. b, a-short, c
#
# For each run runs/paper-PRESET-sSEED: skip it if its record in benchmarks/results/runs is
# finished and the run directory is missing; else run `naslib-petridish evaluate` (with
# --resume when the directory exists; /usr/bin/time -v appends to
# runs/paper-PRESET-sSEED.time.log); save its record when it finishes.  Records keep
# summaries only, never resume state: a run continues only from its own run directory, so
# an unfinished record without its directory starts the run afresh.  Before a session
# ends, `python -m benchmarks.run_records save DIR` keeps the summaries so far.  Extra
# evaluate options go in $EVALUATE_ARGS.  Needs the environment of README.md (.venv,
# NASLIB_PETRIDISH_NB101).
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -gt 0 ] || { echo "usage: $0 PRESET:SEED [PRESET:SEED ...]   (e.g. b:2 a:1)" >&2; exit 2; }
for item in "$@"; do
  case "$item" in
    *:[0-9]*) ;;
    *) echo "error: '$item' is not PRESET:SEED (e.g. b:2, a-short:0)" >&2; exit 2 ;;
  esac
done
command -v naslib-petridish > /dev/null || {
  echo "error: naslib-petridish is not on PATH; activate the environment of README.md first (. .venv/bin/activate)" >&2
  exit 2; }
records=benchmarks/results/runs
for item in "$@"; do
  preset=${item%%:*}; seed=${item##*:}
  name=paper-$preset-s$seed; dir=runs/$name
  if [ -f "$records/$name/record.json" ] && [ ! -d "$dir" ]; then
    if python -c "import json,sys; r=json.load(open(sys.argv[1])); sys.exit(0 if r.get('finished') or r.get('lost') else 1)" "$records/$name/record.json"; then
      echo "$name: finished (record in $records/$name), skipped"; continue
    fi
    echo "$name: its record is unfinished and $dir is missing: starting the run afresh"
  fi
  mkdir -p runs
  resume=(); [ -d "$dir" ] && resume=(--resume)
  echo "$(date -u +%FT%TZ) $name: evaluate ${resume[*]}"
  # shellcheck disable=SC2086
  /usr/bin/time -v naslib-petridish -q evaluate --preset "paper-$preset" --seed "$seed" \
      --test-size 200 --out "$dir" "${resume[@]}" ${EVALUATE_ARGS:-} 2>> "$dir.time.log" || {
    echo "error: $name failed; the end of $dir.time.log:" >&2; tail -n 25 "$dir.time.log" >&2
    exit 1; }
  python -m benchmarks.run_records save "$dir"
done
