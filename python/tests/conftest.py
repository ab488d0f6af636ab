"""Shared fixtures: a small text, the `charrnn` binary, and helpers to run it."""

import json
import os
import random
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _words():
    rng = random.Random(7)
    words = "the of and to a in that is was he for it with as his on be at by i this had not are but from".split()
    lines = []
    for _ in range(400):
        n = rng.randint(4, 11)
        line = " ".join(rng.choice(words) for _ in range(n))
        lines.append(line.capitalize() + rng.choice([".", ",", ";", "!", "?"]))
    return "\n".join(lines) + "\n"


TEXT = _words()


@pytest.fixture(scope="session")
def text():
    return TEXT


@pytest.fixture
def corpus(tmp_path):
    p = tmp_path / "input.txt"
    p.write_text(TEXT)
    return p


def _binary():
    env = os.environ.get("CHARRNN_BIN")
    if env:
        return env
    for kind in ("release", "debug"):
        p = ROOT / "target" / kind / "charrnn"
        if p.exists():
            return str(p)
    return shutil.which("charrnn")


@pytest.fixture(scope="session")
def cli():
    """Run the `charrnn` binary (CHARRNN_BIN, or the workspace's target/{release,debug}/charrnn)."""
    exe = _binary()
    if exe is None:
        pytest.skip("the charrnn binary is not built (cargo build -p charrnn-cli, or set CHARRNN_BIN)")

    def run(*args, cwd=None, check=True):
        r = subprocess.run([exe, *map(str, args)], capture_output=True, text=True, cwd=cwd)
        if check and r.returncode != 0:
            raise AssertionError(f"charrnn {' '.join(map(str, args))} failed ({r.returncode}):\n{r.stderr}")
        return r

    run.exe = exe
    return run


def read_metrics(path):
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]
