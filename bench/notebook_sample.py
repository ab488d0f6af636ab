#!/usr/bin/env python3
"""Times the seed notebook's `sample` function (numpy, float64) at the notebook's sizes:
the peer for `charrnn bench`'s sampling figure. Prints one JSON line with chars_per_s.

The function below is the notebook's `sample`, unchanged but for taking the weights as
arguments instead of globals. Weights are random (N(0, 0.02^2)); speed does not depend on them.

  notebook_sample.py [--vocab 65] [--chars 20000]
"""
import argparse
import json
import time

import numpy as np


def softmax(x):
    e_x = np.exp(x - np.max(x, axis=0))
    return e_x / e_x.sum(axis=0)


def sample(Wex, Wxh, Whh, Why, bh, by, h, seed_ix, n):
    vocab_size = Why.shape[0]
    c = np.zeros((vocab_size, 1))
    c[seed_ix] = 1
    generated_chars = []
    for t in range(n):
        x = np.dot(Wex, c)
        h = np.tanh(np.dot(Wxh, x) + np.dot(Whh, h) + bh)
        o = np.dot(Why, h) + by
        p = softmax(o)
        ix = np.random.multinomial(1, p.ravel())
        c = np.zeros((vocab_size, 1))
        for j in range(len(ix)):
            if ix[j] == 1:
                index = j
        c[index] = 1
        generated_chars.append(index)
    return generated_chars


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--vocab", type=int, default=65)
    ap.add_argument("--chars", type=int, default=20000)
    a = ap.parse_args()
    emb, hidden, std = 4, 32, 0.02
    rng = np.random.RandomState(0)
    Wex = rng.randn(emb, a.vocab) * std
    Wxh = rng.randn(hidden, emb) * std
    Whh = rng.randn(hidden, hidden) * std
    Why = rng.randn(a.vocab, hidden) * std
    bh = rng.randn(hidden, 1) * std
    by = rng.randn(a.vocab, 1) * std
    t0 = time.perf_counter()
    sample(Wex, Wxh, Whh, Why, bh, by, np.zeros((hidden, 1)), 0, a.chars)
    dt = time.perf_counter() - t0
    print(json.dumps({"chars_per_s": round(a.chars / dt)}))


if __name__ == "__main__":
    main()
