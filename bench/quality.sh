#!/usr/bin/env bash
# How good a model each preset trains in a wall-clock budget, side by side with the PyTorch
# peer trained for the same time: tiny Shakespeare, its last 10% held out, 2 threads, the clock
# counting evaluation. Prints one table of validation losses (nats/char), last and best.
#
#   bench/quality.sh [SHARED_DIR]      (default: ../shared beside the repository)
#
# BUDGET=300 sets the seconds per run (default 300: five minutes); PRESETS="small medium"
# which presets to run (default: small medium large); PEERS="lstm512" which PyTorch recipes
# (lstm512: LSTM E64 H512 T100 B64 Adam 2e-3, the issue's recipe; lstm2x512: two layers,
# dropout 0.25; none: no peer); EXTRA="FLAGS" more charrnn flags; DATA=FILE another text (the presets must hold on code and
# other languages too). Needs cargo, and python3 with torch and numpy for the peer (set
# PYTHON). Run it on a quiet machine: each run is timed.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${1:-$root/../shared}
data=${DATA:-$shared/data/tinyshakespeare.txt}
[ -f "$data" ] || { echo "quality.sh: $data not found: pass the shared directory or set DATA" >&2; exit 2; }
budget=${BUDGET:-300}
presets=${PRESETS:-small medium large}
peers=${PEERS:-lstm512}
# EXTRA="--hidden 384" adds flags to every charrnn run (to try a variation of the presets).
extra=${EXTRA:-}
PYTHON=${PYTHON:-python3}
cd "$root"
cargo build --release -q -p charrnn-cli
bin=$root/target/release/charrnn
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "machine: $(lscpu | sed -n 's/^Model name: *//p') (family $(lscpu | sed -n 's/^CPU family: *//p'), model $(lscpu | sed -n 's/^Model: *//p')), $(nproc) cores; $(date -u +%Y-%m-%d); $(basename "$data"), last 10% validation, ${budget} s a run"
printf '%-34s %8s %10s %10s %10s\n' run steps "chars/s" "val last" "val best"

for p in $presets; do
  d=$tmp/$p
  mkdir -p "$d"
  # The default validation cadence, as a user's run (every evaluation counts in the budget).
  "$bin" train --data "$data" --preset "$p" --max-time "${budget}s" --val-frac 0.1 $extra \
    --run-dir "$d/run" --metrics "$d/m.jsonl" > /dev/null 2> "$d/log" || { tail -3 "$d/log"; continue; }
  # Every validation line of the log: the last is the final model's.
  vals=$(sed -n 's/.*validation loss \([0-9.]*\) nats.*/\1/p' "$d/log")
  last=$(echo "$vals" | tail -1)
  best=$(echo "$vals" | sort -n | head -1)
  steps=$(sed -n 's/.*"step":\([0-9]*\).*/\1/p' "$d/m.jsonl" | tail -1)
  cps=$(grep -o '[0-9]* chars/s' "$d/log" | tail -1 | cut -d' ' -f1)
  printf '%-34s %8s %10s %10s %10s\n' "charrnn --preset $p${extra:+ $extra}" "$steps" "$cps" "$last" "$best"
done

for peer in $peers; do
  case $peer in
    none) continue ;;
    lstm512) flags=(--cell lstm --emb 64 --hidden 512 --seq 100 --batch 64 --optim adam --lr 0.002) ;;
    lstm2x512) flags=(--cell lstm --emb 64 --hidden 512 --layers 2 --dropout 0.25 --seq 100 --batch 64 --optim adam --lr 0.002) ;;
    *) echo "quality.sh: unknown peer $peer" >&2; exit 2 ;;
  esac
  out=$("$PYTHON" "$shared/bench/torch_peer.py" train --data "$data" --seconds "$budget" --threads 2 \
    --eval-every-seconds 30 "${flags[@]}" | tail -1)
  # The peer's last line: {"chars_per_s": .., "steps": .., "val_loss": .., "best_val_loss": ..}.
  field() { echo "$out" | "$PYTHON" -c "import json,sys; print(json.load(sys.stdin).get('$1', '-'))"; }
  printf '%-34s %8s %10s %10s %10s\n' "torch_peer $peer (f32)" "$(field steps)" "$(field chars_per_s)" \
    "$(field val_loss)" "$(field best_val_loss)"
done
