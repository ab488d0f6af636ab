"""charrnn.Model: load/save, sample (and its iterator), score, step, state, weights, vocab;
each agrees with the CLI."""

import json
import math

import numpy as np
import pytest

import charrnn


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    from conftest import TEXT

    d = tmp_path_factory.mktemp("model")
    (d / "input.txt").write_text(TEXT)
    model = charrnn.train(d / "input.txt", out=d / "model.safetensors", steps=60, seq_len=16, batch=4,
                          hidden=24, cell="lstm", optim="adam", lr=0.01, threads=1, progress=False)
    return model, d


def test_load_save_roundtrip(trained, tmp_path):
    model, d = trained
    m = charrnn.Model.load(d / "model.safetensors")
    assert m.vocab == model.vocab and "".join(m.vocab).strip()
    model.save(tmp_path / "copy.safetensors")
    c = charrnn.Model.load(tmp_path / "copy.safetensors")
    for k, v in model.weights.items():
        np.testing.assert_array_equal(v, c.weights[k])
    assert not any(k.startswith("train.") for k in c.metadata)
    assert "lstm" in repr(c)


def test_weights_and_config(trained):
    model, _ = trained
    w = model.weights
    cfg = model.config
    assert cfg["cell"] == "lstm" and cfg["states"] == ["h", "c"]
    V, E, H = cfg["vocab_size"], cfg["emb"], cfg["hidden"]
    assert w["embed.weight"].shape == (V, E)
    assert w["rnn.weight_ih_l0"].shape == (4 * H, E)
    assert w["out.bias"].shape == (V,)
    assert sum(a.size for a in w.values()) == cfg["params"]


@pytest.mark.parametrize(
    "kw, flags",
    [
        ({"seed": 3, "n": 120}, ["--seed", "3", "-n", "120"]),
        ({"seed": 5, "n": 80, "temperature": 0.7, "top_k": 5, "prime": "The "},
         ["--seed", "5", "-n", "80", "--temperature", "0.7", "--top-k", "5", "--prime", "The "]),
        ({"seed": 9, "n": 80, "top_p": 0.9, "stop": "."}, ["--seed", "9", "-n", "80", "--top-p", "0.9", "--stop", "."]),
        ({"n": 60, "argmax": True, "prime": "A"}, ["-n", "60", "--argmax", "--prime", "A"]),
        ({"n": 40, "beam": 4, "prime": "The"}, ["-n", "40", "--beam", "4", "--prime", "The"]),
    ],
)
def test_sample_agrees_with_the_cli(trained, cli, kw, flags):
    model, d = trained
    out = cli("sample", "--model", d / "model.safetensors", *flags).stdout
    got = model.sample(**kw)
    assert out.rstrip("\n") == got.rstrip("\n")
    if "beam" not in kw:
        it = "".join(model.sample_iter(**{k: v for k, v in kw.items()}))
        assert kw.get("prime", "") + it == got


def test_score_agrees_with_the_cli(trained, cli):
    model, d = trained
    text = "The man was in the house, and he had it.\n"
    (d / "s.txt").write_text(text)
    r = json.loads(cli("score", "--model", d / "model.safetensors", "--data", d / "s.txt", "--json").stdout)
    s = model.score(text)
    for k in ("nats_per_char", "bits_per_char", "perplexity", "chars"):
        assert s[k] == pytest.approx(r[k], rel=1e-12), k
    assert model.score(data=d / "s.txt") == s


def test_step_probabilities_add_up_to_score(trained):
    model, _ = trained
    text = "The man was in the house."
    m64 = charrnn.Model.load(model.path, dtype="f64")
    m64.reset()
    nll = 0.0
    for a, b in zip(text, text[1:]):
        p = m64.step(a)
        assert p.shape == (len(m64.vocab),) and p.dtype == np.float64
        assert abs(p.sum() - 1) < 1e-9
        nll -= math.log(p[m64.vocab.index(b)])
    s = m64.score(text, seq_len=1000)
    assert nll / (len(text) - 1) == pytest.approx(s["nats_per_char"], rel=1e-9)
    st = m64.state
    assert set(st) == {"h", "c"} and st["h"].shape == (1, m64.config["hidden"])
    assert np.abs(st["h"]).sum() > 0
    m64.reset()
    assert np.abs(m64.state["h"]).sum() == 0
    by_id = m64.step(m64.vocab.index("T"))
    m64.reset()
    np.testing.assert_allclose(by_id, m64.step("T"), rtol=1e-12)


def test_encode_decode(trained):
    model, _ = trained
    ids = model.encode("the")
    assert ids.dtype == np.int64 and model.decode(list(ids)) == "the"


@pytest.mark.parametrize(
    "call, exc, match",
    [
        (lambda m: m.sample(n=0), ValueError, "`n` must be at least 1"),
        (lambda m: m.sample(temperature=0), ValueError, "temperature"),
        (lambda m: m.sample(argmax=True, top_k=3), ValueError, "argmax"),
        (lambda m: m.sample(top_p=1.5), ValueError, "top_p"),
        (lambda m: m.sample(prime="\u2603"), ValueError, "not in the model's vocabulary"),
        (lambda m: m.sample(beam=0), ValueError, "beam"),
        (lambda m: m.sample(n=-1), OverflowError, "negative"),
        (lambda m: m.step("xy"), ValueError, "one character"),
        (lambda m: m.step(10**6), ValueError, "outside the vocabulary"),
        (lambda m: m.step(1.5), TypeError, "character"),
        (lambda m: m.score("\u2603\u2603\u2603"), ValueError, "not in the model's vocabulary"),
        (lambda m: m.score("T"), ValueError, "fewer than 2"),
        (lambda m: m.score("the", data="x"), TypeError, "not both"),
        (lambda m: m.decode([10**6]), ValueError, "outside the vocabulary"),
    ],
)
def test_bad_inputs_raise(trained, call, exc, match):
    model, _ = trained
    with pytest.raises(exc, match=match):
        call(model)


def test_bad_files_raise(tmp_path):
    with pytest.raises(FileNotFoundError):
        charrnn.Model.load(tmp_path / "none.safetensors")
    (tmp_path / "junk.safetensors").write_bytes(b"not a checkpoint at all")
    with pytest.raises(ValueError):
        charrnn.Model.load(tmp_path / "junk.safetensors")
    with pytest.raises(IsADirectoryError):
        charrnn.Model.load(tmp_path)
    with pytest.raises(ValueError, match="dtype"):
        charrnn.Model.load(tmp_path / "junk.safetensors", dtype="f16")


def test_help_has_docstrings():
    assert "Generate text" in charrnn.Model.sample.__doc__
    assert "charrnn train" in charrnn.train.__doc__
