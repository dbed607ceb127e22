#!/usr/bin/env bash
# The MNIST open-set table: every loss trained on digits 0-6 under the one course recipe
# (minifacenet/recipe.py: the same optimiser, lr, schedule, epochs and batch for every loss),
# scored on the unseen 7, 8, 9 of the test set, in 2-D, 3-D and 32-D, 3 seeds each.
#
#   bash scripts/train_table.sh                      # every row (63 runs; --jobs 2: about 40 min)
#   bash scripts/train_table.sh --jobs 2             # two runs at a time, one torch thread each
#   bash scripts/train_table.sh open-3d-arcface-seed1   # only the named rows
#   bash scripts/train_table.sh --list               # row names and commands
#   bash scripts/train_table.sh --table              # python scripts/results_table.py
#
# A row differs from another only in the loss and the loss's own settings (m, s, mining): no
# row sets --lr, --epochs or --batch-size (tests/test_train_recipe.py checks it). Each row
# writes runs/table/<row>/{metrics.json,checkpoint.pt,embeddings.png}; the table reads them
# back, so rows can be (re)run one at a time, in any order, on any machine.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${MINIFACENET_TABLE_OUT:-runs/table}"

# each loss's own settings (3-D and up; in 2-D, CosFace and ArcFace take smaller margins)
declare -A LOSS_FLAGS=(
  [softmax]="--loss softmax"
  [normface]="--loss normface --scale 16"
  [contrastive]="--loss contrastive --margin 1"
  [triplet]="--loss triplet --margin 0.2 --mining semi-hard"
  [sphereface]="--loss sphereface --margin 4"
  [cosface]="--loss cosface --margin 0.2 --scale 16"
  [arcface]="--loss arcface --margin 0.3 --scale 16"
)
declare -A LOSS_FLAGS_2D=(
  [cosface]="--loss cosface --margin 0.1 --scale 16"
  [arcface]="--loss arcface --margin 0.2 --scale 16"
)
LOSSES=(softmax normface contrastive triplet sphereface cosface arcface)
ROWS=()
for seed in 0 1 2; do
  for dim in 2 3 32; do
    for loss in "${LOSSES[@]}"; do
      flags="${LOSS_FLAGS[$loss]}"
      if [ "$dim" = 2 ] && [ -n "${LOSS_FLAGS_2D[$loss]:-}" ]; then flags="${LOSS_FLAGS_2D[$loss]}"; fi
      ROWS+=("open-${dim}d-$loss-seed$seed|$flags --dim $dim --seed $seed --unseen-classes 7 8 9")
    done
  done
done

jobs=1
if [ "${1:-}" = "--jobs" ]; then jobs="$2"; shift 2; fi
case "${1:-}" in
  --list)
    for row in "${ROWS[@]}"; do echo "${row%%|*}: python -m minifacenet train ${row#*|}"; done
    exit 0
    ;;
  --table)
    python scripts/results_table.py --runs "$out"
    exit 0
    ;;
esac

wanted=" $* "
for row in "${ROWS[@]}"; do
  name="${row%%|*}"
  if [ $# -gt 0 ] && [[ "$wanted" != *" $name "* ]]; then continue; fi
  printf '%s\n' "$row"
done | OMP_NUM_THREADS=1 xargs -P "$jobs" -d '\n' -I{} bash -c '
  row="$1"; out="$2"; name="${row%%|*}"
  echo "== $name: python -m minifacenet train ${row#*|}"
  # shellcheck disable=SC2086 # the flags are meant to split into words
  python -m minifacenet train ${row#*|} --out "$out/$name" > "$out/$name.log" 2>&1 \
    || echo "!! $name failed: see $out/$name.log"
' _ {} "$out"
python scripts/results_table.py --runs "$out"
