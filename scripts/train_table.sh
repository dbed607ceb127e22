#!/usr/bin/env bash
# Regenerate the accuracy table of docs/results.md: one CLI run per row, then the table.
# (Contrastive and triplet rows report 1-nearest-neighbour test accuracy against the training set.)
#
#   bash scripts/train_table.sh                      # every row (long: about 90 minutes, one run at a time)
#   bash scripts/train_table.sh 2d-softmax 2d-arcface-m0.3   # only the named rows
#   bash scripts/train_table.sh --list               # row names and commands
#   bash scripts/train_table.sh --table              # the markdown table from finished runs
#
# The open-set table (issue 13): every loss trained on digits 0-6, scored on the unseen 7, 8, 9
# of the test set, in 2-D, 3-D and 32-D; softmax, CosFace and ArcFace with 3 seeds in 3-D and
# 32-D, for paired differences over seeds:
#
#   bash scripts/train_table.sh --open               # every open-* row (about 33 runs)
#   bash scripts/train_table.sh open-3d-arcface      # one row, by name, as above
#   bash scripts/train_table.sh --open-table         # python scripts/results_table.py
#
# Each row writes runs/table/<row>/{metrics.json,checkpoint.pt,embeddings.png}; --table
# reads them back, so rows can be (re)run one at a time, in any order, on any machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${MINIFACENET_TABLE_OUT:-runs/table}"

# name | CLI arguments after "python -m minifacenet train" | target test accuracy (%)
ROWS=(
  "2d-softmax|--loss softmax --dim 2 --epochs 10|98.9"
  "2d-normface|--loss normface --dim 2 --scale 16 --lr 0.01 --epochs 10|98.5"
  "2d-normface-20ep|--loss normface --dim 2 --scale 16 --epochs 20|98.5"
  "2d-normface-noshift|--loss normface --dim 2 --scale 16 --lr 0.01 --shift 0 --epochs 10|98.5"
  "2d-sphereface-m4|--loss sphereface --dim 2 --margin 4 --epochs 10|98.5"
  "2d-cosface-m0.1|--loss cosface --dim 2 --margin 0.1 --scale 16 --lr 0.01 --epochs 10|98.9"
  "2d-cosface-m0.1-warmup|--loss cosface --dim 2 --margin 0.1 --scale 16 --lr 0.01 --warmup 0.4 --epochs 10|98.9"
  "2d-cosface-m0.1-noshift|--loss cosface --dim 2 --margin 0.1 --scale 16 --lr 0.01 --shift 0 --epochs 10|98.9"
  "2d-arcface-m0.2|--loss arcface --dim 2 --margin 0.2 --scale 16 --lr 0.01 --epochs 10|98.9"
  "2d-arcface-m0.2-warmup|--loss arcface --dim 2 --margin 0.2 --scale 16 --lr 0.01 --warmup 0.4 --epochs 10|98.9"
  "2d-arcface-m0.2-20ep|--loss arcface --dim 2 --margin 0.2 --scale 16 --epochs 20|98.9"
  "2d-arcface-m0.2-20ep-lr0.01|--loss arcface --dim 2 --margin 0.2 --scale 16 --lr 0.01 --epochs 20|98.9"
  "2d-arcface-m0.2-20ep-warmup|--loss arcface --dim 2 --margin 0.2 --scale 16 --lr 0.01 --warmup 0.4 --epochs 20|98.9"
  "2d-arcface-m0.2-noshift|--loss arcface --dim 2 --margin 0.2 --scale 16 --lr 0.01 --shift 0 --epochs 10|98.9"
  "2d-arcface-m0.2-noshift-20ep|--loss arcface --dim 2 --margin 0.2 --scale 16 --lr 0.01 --shift 0 --epochs 20|98.9"
  "2d-arcface-m0.3|--loss arcface --dim 2 --margin 0.3 --scale 16 --lr 0.01 --warmup 0.4 --epochs 10|98.5"
  "2d-contrastive|--loss contrastive --dim 2 --margin 1 --epochs 10|98.5"
  "2d-triplet|--loss triplet --dim 2 --margin 0.2 --mining semi-hard --epochs 10|98.5"
  "2d-triplet-20ep|--loss triplet --dim 2 --margin 0.2 --mining semi-hard --epochs 20|98.5"
  "3d-softmax|--loss softmax --dim 3 --epochs 10|99.2"
  "3d-normface|--loss normface --dim 3 --scale 16 --lr 0.01 --epochs 10|99.2"
  "3d-normface-20ep|--loss normface --dim 3 --scale 16 --lr 0.01 --epochs 20|99.2"
  "3d-sphereface-m4|--loss sphereface --dim 3 --margin 4 --epochs 10|99.2"
  "3d-cosface-m0.2|--loss cosface --dim 3 --margin 0.2 --scale 16 --lr 0.01 --epochs 10|99.2"
  "3d-arcface-m0.3|--loss arcface --dim 3 --margin 0.3 --scale 16 --lr 0.01 --warmup 0.4 --epochs 10|99.2"
  "3d-combined|--loss combined --dim 3 --margin 0.2 --scale 16 --lr 0.01 --epochs 10|99.2"
)

# the open-set rows: name | CLI arguments (all with --unseen-classes 7 8 9, 10 epochs)
UNSEEN="--unseen-classes 7 8 9 --epochs 10"
# per loss, the settings of the closed-set rows above (3-D and up; in 2-D, CosFace and ArcFace
# take the smaller margins of their 2-D rows)
declare -A OPEN_ND=(
  [softmax]="--loss softmax"
  [contrastive]="--loss contrastive --margin 1"
  [triplet]="--loss triplet --margin 0.2 --mining semi-hard"
  [sphereface]="--loss sphereface --margin 4"
  [cosface]="--loss cosface --margin 0.2 --scale 16 --lr 0.01"
  [arcface]="--loss arcface --margin 0.3 --scale 16 --lr 0.01 --warmup 0.4"
)
declare -A OPEN_2D=()
for loss in "${!OPEN_ND[@]}"; do OPEN_2D[$loss]=${OPEN_ND[$loss]}; done
OPEN_2D[cosface]="--loss cosface --margin 0.1 --scale 16 --lr 0.01"
OPEN_2D[arcface]="--loss arcface --margin 0.2 --scale 16 --lr 0.01"
OPEN_ROWS=()
for loss in softmax contrastive triplet sphereface cosface arcface; do
  OPEN_ROWS+=("open-2d-$loss|${OPEN_2D[$loss]} --dim 2 $UNSEEN|-")
  for dim in 3 32; do
    OPEN_ROWS+=("open-${dim}d-$loss|${OPEN_ND[$loss]} --dim $dim $UNSEEN|-")
  done
done
for loss in softmax cosface arcface; do
  for dim in 3 32; do
    for seed in 1 2; do
      OPEN_ROWS+=("open-${dim}d-$loss-seed$seed|${OPEN_ND[$loss]} --dim $dim $UNSEEN --seed $seed|-")
    done
  done
done

row_field() { # row_field <row> <1|2|3>
  cut -d'|' -f"$2" <<<"$1"
}

table() {
  python - "$out" "${ROWS[@]}" <<'PY'
import json, sys
from pathlib import Path

out, rows = Path(sys.argv[1]), [r.split("|") for r in sys.argv[2:]]
print("| row | loss | dim | m | s | lr | epochs | warm-up | test acc. (%) | seconds | target (%) | met? | command |")
print("|---|---|---|---|---|---|---|---|---|---|---|---|---|")
for name, flags, target in rows:
    path = out / name / "metrics.json"
    if not path.exists():
        print(f"| {name} | not run | | | | | | | | | {target} | | `python -m minifacenet train {flags}` |")
        continue
    m = json.loads(path.read_text())
    a, acc = m["args"], 100 * m["test_accuracy"]
    margin = "-" if a["margin"] is None else f"{a['margin']:g}"
    scale = {"softmax": "-", "sphereface": "‖x‖"}.get(a["loss"], "-" if a["scale"] is None else f"{a['scale']:g}")
    met = "yes" if acc >= float(target) else "**no**"
    print(
        f"| {name} | {a['loss']} | {a['dim']} | {margin} | {scale} | {a['lr']:g} | {a['epochs']} | {a['warmup']} "
        f"| {acc:.2f} | {m['seconds']:.0f} | {target} | {met} | `python -m minifacenet train {flags}` |"
    )
PY
}

case "${1:-}" in
  --list)
    for row in "${ROWS[@]}" "${OPEN_ROWS[@]}"; do
      echo "$(row_field "$row" 1): python -m minifacenet train $(row_field "$row" 2)"
    done
    exit 0
    ;;
  --table)
    table
    exit 0
    ;;
  --open-table)
    python scripts/results_table.py --runs "$out"
    exit 0
    ;;
esac

wanted=("$@")
selected=("${ROWS[@]}")
if [ "${1:-}" = "--open" ]; then
  wanted=()
  selected=("${OPEN_ROWS[@]}")
elif [ "${#wanted[@]}" -gt 0 ]; then
  selected=("${ROWS[@]}" "${OPEN_ROWS[@]}")
fi
for row in "${selected[@]}"; do
  name="$(row_field "$row" 1)"
  if [ "${#wanted[@]}" -gt 0 ] && [[ ! " ${wanted[*]} " == *" $name "* ]]; then
    continue
  fi
  echo "== $name: python -m minifacenet train $(row_field "$row" 2)"
  # shellcheck disable=SC2046 # the flags are meant to split into words
  python -m minifacenet train $(row_field "$row" 2) --out "$out/$name"
done
if [ "${1:-}" = "--open" ] || [[ " ${wanted[*]:-} " == *" open-"* ]]; then
  python scripts/results_table.py --runs "$out"
else
  table
fi
