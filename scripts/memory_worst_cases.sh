#!/bin/bash
# Peak memory (max RSS, /usr/bin/time -v) of kdviz's largest accepted requests (BENCHMARKS.md, "Memory").
# Usage: scripts/memory_worst_cases.sh [path/to/kdviz]   (default: target/release/kdviz)
set -u
K=$(realpath "${1:-target/release/kdviz}")
PRESET=$(realpath assets/presets/zipf-1000.toml)
D=$(mktemp -d)
cd "$D" || exit 1
# A zipf-1000 variant: name, epochs, classes, divergences, snapshot epochs.
mk() {
  sed -e "s/^epochs = 300/epochs = $2/" -e "s/^classes = 1000/classes = $3/" \
      -e "s/^divergences = .*/divergences = [$4]/" -e "s/^snapshots = .*/snapshots = [$5]/" \
      -e "s/^name = .*/name = \"$1\"/" "$PRESET" > "$1.toml"
}
mk wide 120 100000 '"fkl", "rkl"' 1,10,50,120      # the most classes, two divergences
mk long 199999 2 '"fkl"' 1                         # the most epochs
mk long2 140000 1000 '"fkl"' 1,10                  # long records of a wider fit
mk mid 2000 20000 '"fkl", "rkl", "akl:mu=0.5"' 1,10,50
m() {
  local name=$1; shift
  /usr/bin/time -v "$K" "$@" > "$name.out" 2> "$name.err"
  local rc=$? rss
  rss=$(awk '/Maximum resident/ {print int($NF / 1024)}' "$name.err")
  printf "%-15s rc=%s max_rss=%4s MiB  kdviz %s\n" "$name" "$rc" "$rss" "$*"
}
m fit-wide fit --config wide.toml --json
m fit-long fit --config long.toml --json
m fit-long2 fit --config long2.toml --csv
m fig-small-png figure --preset akl-fig3-longtail --out s.png
m fig-wide-png figure --config wide.toml --out w1.png
m fig-wide-24mpx figure --config wide.toml --out w.png --scale 5.35 --width 1100 --height 760
m fig-wide-svg figure --config wide.toml --out w.svg
m fig-mid-apng figure --config mid.toml --out m.apng --frames 0:2000:200
m fig-long-png figure --config long2.toml --out l.png --view loss
m gpu-bench gpu bench
rm -rf "$D"
