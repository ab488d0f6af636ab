#!/usr/bin/env bash
# Runs, in one go on this machine, charrnn's bench (default threads, and 1), the numpy reference
# of the notebook and the PyTorch peer on the same configurations and corpus, and prints one
# table of chars/s and ratios. docs/performance.md keeps its latest output (the README a summary).
#
#   bench/compare.sh [SHARED_DIR]      (default: ../shared beside the repository)
#
# Needs: cargo; python3 with numpy, safetensors and torch (set PYTHON, or the script makes a
# venv in bench/.venv and installs them: several GB for torch). SECONDS_PER=N sets how long
# each measurement runs (default 10), ROUNDS=N how many times each is taken (default 3; the
# table shows medians).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${1:-$root/../shared}
data=$shared/data/tinyshakespeare.txt
[ -f "$data" ] || { echo "compare.sh: $data not found: pass the shared directory" >&2; exit 2; }
secs=${SECONDS_PER:-10}
if [ -z "${PYTHON:-}" ]; then
  if [ ! -x "$root/bench/.venv/bin/python" ]; then
    python3 -m venv "$root/bench/.venv"
    "$root/bench/.venv/bin/pip" install -q numpy safetensors torch
  fi
  PYTHON=$root/bench/.venv/bin/python
fi
cd "$root"
cargo build --release -q -p charrnn-cli
bin=$root/target/release/charrnn
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

rounds=${ROUNDS:-3}
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GB; $(date -u +%Y-%m-%d); median of $rounds interleaved rounds, ${secs} s a measurement"
# Every measurement runs once per round, all of them in turn, and the table shows each one's
# median over the rounds: a burst of load from elsewhere (a shared machine's neighbours) then
# spoils one round of one measurement, not the figure.
for r in $(seq "$rounds"); do
  d=$tmp/$r
  mkdir -p "$d"
  # The default threads: every core (two here), or one where a model is too small for two
  # to pay (the table marks those).
  "$bin" bench --data "$data" --seconds "$secs" --json > "$d/ours2.jsonl"
  "$bin" bench --data "$data" --threads 1 --seconds "$secs" --json > "$d/ours1.jsonl"

  # The numpy reference: the seed configuration only (it has no other cells).
  steps=$(( secs * 600 ))
  "$PYTHON" "$shared/reference/seed_rnn.py" bench --data "$data" --steps "$steps" > "$d/numpy.txt"
  "$PYTHON" "$root/bench/notebook_sample.py" --chars $(( secs * 3000 )) > "$d/numpy_sample.json"

  # The PyTorch peer at 2 threads; steps sized to run about $secs seconds each.
  peer() { # name steps flags...
    local name=$1 steps=$2; shift 2
    "$PYTHON" "$shared/bench/torch_peer.py" bench --data "$data" --threads 2 --steps "$steps" "$@" > "$d/torch_$name.json"
  }
  peer seed $(( secs * 60 )) --cell rnn --emb 4 --hidden 32 --seq 32 --batch 4
  peer rnn256 $(( secs * 3 )) --cell rnn --emb 64 --hidden 256 --seq 64 --batch 32
  peer lstm2x128 $(( secs * 2 )) --cell lstm --emb 64 --hidden 128 --layers 2 --seq 50 --batch 50
  peer gru256 $(( secs * 2 )) --cell gru --emb 64 --hidden 256 --seq 64 --batch 32
  peer lstm2x512 $(( secs / 2 + 2 )) --cell lstm --emb 64 --hidden 512 --layers 2 --seq 100 --batch 50
done

"$PYTHON" - "$tmp" "$rounds" <<'PY'
import json, re, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def med(f):
    return statistics.median(f(f"{d}/{r}") for r in range(1, rounds + 1))
def rows(p):
    return {r["config"]: r for r in map(json.loads, open(p))}
def ours(threads, name, key):
    return med(lambda r: rows(f"{r}/ours{threads}.jsonl")[name][key])
numpy = med(lambda r: float(re.match(r"(\d+)", open(f"{r}/numpy.txt").read()).group(1)))
numpy_sample = med(lambda r: json.load(open(f"{r}/numpy_sample.json"))["chars_per_s"])
print()
print(f"{'config':<11} {'charrnn 2t':>11} {'charrnn 1t':>11} {'2t/1t':>6} {'GFLOP/s':>8} {'PyTorch 2t':>11} {'vs torch':>9} {'numpy':>8} {'vs numpy':>9}")
for name in rows(f"{d}/1/ours2.jsonl"):
    c2, c1 = ours(2, name, "chars_per_s"), ours(1, name, "chars_per_s")
    torch = med(lambda r: json.load(open(f"{r}/torch_{name}.json"))["chars_per_s"])
    np_col = f"{numpy:>8.0f} {c2 / numpy:>8.1f}x" if name == "seed" else f"{'':>8} {'':>9}"
    mark = "*" if rows(f"{d}/1/ours2.jsonl")[name]["threads"] == 1 else " "
    print(f"{name:<10}{mark} {c2:>11.0f} {c1:>11.0f} {c2 / c1:>5.2f}x "
          f"{ours(2, name, 'gflops'):>8.1f} {torch:>11.0f} {c2 / torch:>8.2f}x {np_col}")
s = ours(2, "seed", "sample_chars_per_s")
print(f"{'sampling':<11} {s:>11.0f} {'':>11} {'':>6} {'':>8} {'':>11} {'':>9} {numpy_sample:>8.0f} {s / numpy_sample:>8.1f}x")
if any(r["threads"] == 1 for r in rows(f"{d}/1/ours2.jsonl").values()):
    print("* on 1 thread by default: too small a model for 2 to pay (charrnn::train::useful_threads)")
PY
