#!/usr/bin/env bash
# Peak memory of training on a large corpus: generates a corpus of SIZE_MB megabytes (default
# 200) in /tmp, trains a few steps on it with the real `charrnn train` and with the streaming
# loader (`examples/stream_train.rs`, the path `charrnn train` takes once wired to
# `corpus::load`), and prints each run's peak RSS (GNU time's "Maximum resident set size")
# and its ratio to the corpus size. Issue 7's target: peak RSS <= corpus + 100 MB.
#
#   bench/big_corpus.sh [SHARED_DIR]         SIZE_MB=50 bench/big_corpus.sh
#
# Needs: cargo, python3, /usr/bin/time (Debian package `time`). If PYTHON (default python3)
# has numpy and safetensors, the numpy reference of the notebook (SHARED_DIR/reference/
# seed_rnn.py, default ../shared beside the repository) is measured too; otherwise its memory
# is given by arithmetic: 8 bytes per character plus the text.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
shared=${1:-$root/../shared}
python=${PYTHON:-python3}
size_mb=${SIZE_MB:-200}
steps=${STEPS:-20}
corpus=/tmp/charrnn_big_corpus_${size_mb}MB.txt
[ -x /usr/bin/time ] || { echo "big_corpus.sh: /usr/bin/time not found: apt-get install time" >&2; exit 2; }
target=${CARGO_TARGET_DIR:-$root/target}
cd "$root"
cargo build --release -q -p charrnn-cli
cargo build --release -q -p charrnn --example stream_train

if [ ! -f "$corpus" ] || [ "$(stat -c %s "$corpus")" -lt $(( size_mb * 1000000 )) ]; then
  # English-like lines of random words over ~70 ASCII characters, plus a few accented ones,
  # CRLF line ends on some lines (so the newline rule has work to do).
  python3 - "$corpus" "$size_mb" <<'PY'
import random, sys
path, mb = sys.argv[1], int(sys.argv[2])
rng = random.Random(7)
letters = "etaoinshrdlucmfwypvbgkjqxz"
words = ["".join(rng.choice(letters) for _ in range(rng.randint(1, 9))) for _ in range(5000)]
words += ["café", "naïve", "Ærø", "über", "Hello,", "World.", "(x)", "[1]", "{2}", "#3", "a-b", "c_d"]
target = mb * 1_000_000
with open(path, "w", encoding="utf-8", newline="") as f:
    written = 0
    while written < target:
        line = " ".join(rng.choice(words) for _ in range(rng.randint(3, 14)))
        line = line[0].upper() + line[1:] + ("\r\n" if rng.random() < 0.1 else "\n")
        f.write(line)  # one line at a time keeps memory flat
        written += len(line.encode("utf-8"))
PY
fi
bytes=$(stat -c %s "$corpus")
echo "machine: $(lscpu | sed -n 's/^Model name: *//p'), $(nproc) cores; $(date -u +%Y-%m-%d)"
echo "corpus: $corpus, $bytes bytes"

peak() { # label command...
  local label=$1; shift
  local log; log=$(mktemp)
  local start=$SECONDS
  /usr/bin/time -v "$@" > /dev/null 2> "$log" || { cat "$log" >&2; exit 1; }
  local kb; kb=$(sed -n 's/^[[:space:]]*Maximum resident set size (kbytes): //p' "$log")
  local secs=$(( SECONDS - start ))
  awk -v l="$label" -v kb="$kb" -v b="$bytes" -v s="$secs" 'BEGIN {
    rss = kb * 1024; printf "%-34s peak RSS %7.1f MB = %.2f x corpus (corpus + %.1f MB), %d s\n",
      l, rss / 1e6, rss / b, (rss - b) / 1e6, s }'
  rm -f "$log"
}

out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
peak "charrnn train ($steps steps)" "$target/release/charrnn" train --data "$corpus" \
  --steps "$steps" --hidden 64 --print-every 0 --sample-every 0 --sample-len 10 \
  --out "$out/model.safetensors"
peak "streaming loader + Trainer" "$target/release/examples/stream_train" "$corpus" "$steps"
if [ -f "$shared/reference/seed_rnn.py" ] && "$python" -c 'import numpy, safetensors' 2> /dev/null; then
  peak "numpy reference ($steps steps)" "$python" "$shared/reference/seed_rnn.py" train \
    --data "$corpus" --steps "$steps"
else
  awk -v b="$bytes" 'BEGIN { printf "%-34s about   %7.1f MB = %.2f x corpus (8 bytes per character + the text)\n",
    "the numpy notebook", 9 * b / 1e6, 9 }'
fi
