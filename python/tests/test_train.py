"""charrnn.train: the CLI's run from Python (same losses), progress, callbacks, interrupts."""

import inspect
import json

import numpy as np
import pytest

import charrnn
from conftest import read_metrics

SMALL = dict(steps=30, seq_len=16, batch=4, hidden=24, threads=1, print_every=10, sample_every=0)


def test_signature_covers_every_run_field():
    params = set(inspect.signature(charrnn.train).parameters)
    missing = set(charrnn.RUN_FIELDS) - params
    assert not missing, f"charrnn.train lacks {missing}"


@pytest.mark.parametrize(
    "extra",
    [
        {},
        {"cell": "lstm", "layers": 2, "optim": "adam", "lr": 0.003, "emb": 8},
        {"cell": "gru", "optim": "rmsprop", "lr": 0.002, "clip_mode": "norm", "clip": 5.0},
        {"cell": "mingru", "warmup": 5, "cosine": True, "lr_min": 0.001},
        {"dtype": "f64", "lr_decay": 0.5, "lr_decay_every": 10},
    ],
    ids=["rnn-adagrad", "lstm2-adam", "gru-rmsprop-norm", "mingru-warmup-cosine", "f64-decay"],
)
def test_losses_equal_the_cli(cli, corpus, tmp_path, extra):
    opts = dict(SMALL, **extra)
    py_metrics = tmp_path / "py.jsonl"
    losses = []
    model = charrnn.train(
        corpus, out=tmp_path / "py.safetensors", metrics=py_metrics, progress=False,
        callback=lambda r: losses.append(r["loss"]), **opts
    )
    args = ["train", "--data", corpus, "--out", tmp_path / "cli.safetensors", "--metrics", tmp_path / "cli.jsonl", "-q"]
    for k, v in opts.items():
        flag = "--" + k.replace("_", "-")
        if v is True:
            args.append(flag)
        else:
            args += [flag, v]
    cli(*args)
    cli_losses = [r["loss"] for r in read_metrics(tmp_path / "cli.jsonl")]
    assert len(cli_losses) == opts["steps"]
    assert losses == cli_losses
    assert [r["loss"] for r in read_metrics(py_metrics)] == cli_losses
    a = model.weights
    b = charrnn.Model.load(tmp_path / "cli.safetensors", dtype=model.dtype).weights
    assert a.keys() == b.keys()
    for k in a:
        np.testing.assert_array_equal(a[k], b[k])
    assert model.outcome["steps"] == opts["steps"] and model.outcome["stop"] == "done"


def test_text_and_callback_records(text, tmp_path):
    recs = []
    model = charrnn.train(text=text, out=tmp_path / "m.safetensors", progress=False, callback=recs.append, **SMALL)
    assert len(recs) == 30
    assert set(recs[0]) >= {"step", "epoch", "loss", "nats_per_char", "smooth_loss", "lr", "grad_norm", "elapsed"}
    assert [r["step"] for r in recs] == list(range(30))
    assert isinstance(model, charrnn.Model) and model.outcome["out"].endswith("m.safetensors")


def test_progress_lines(text, tmp_path, capsys):
    charrnn.train(text=text, out=tmp_path / "m.safetensors", progress="lines", **SMALL)
    out = capsys.readouterr().out
    assert "iter 0, loss:" in out and "iter 20, loss:" in out
    assert "done: 30 steps" in out


def test_preset_and_max_time(text, tmp_path):
    model = charrnn.train(text=text, out=tmp_path / "m.safetensors", preset="tiny", steps=5, progress=False)
    assert model.config["cell"] == "rnn" and model.config["hidden"] == 32
    m = charrnn.train(text=text, out=tmp_path / "t.safetensors", max_time="1h", steps=3, progress=False,
                      hidden=8, seq_len=8)
    assert m.outcome["steps"] == 3


def test_keyboard_interrupt_leaves_a_resumable_checkpoint(corpus, tmp_path, cli):
    opts = dict(SMALL, steps=40)
    full = []
    charrnn.train(corpus, out=tmp_path / "full.safetensors", progress=False,
                  callback=lambda r: full.append(r["loss"]), **opts)

    seen = []

    def stop_at_12(r):
        seen.append(r["loss"])
        if r["step"] == 11:
            raise KeyboardInterrupt

    with pytest.raises(charrnn.Interrupted) as e:
        charrnn.train(corpus, out=tmp_path / "part.safetensors", progress=False, callback=stop_at_12, **opts)
    assert isinstance(e.value, KeyboardInterrupt)
    assert e.value.step == 12 and e.value.checkpoint.endswith(".safetensors")
    assert "resumable checkpoint of step 12" in str(e.value)
    rest = []
    charrnn.train(resume=e.value.checkpoint, progress=False, callback=lambda r: rest.append(r["loss"]))
    assert seen + rest == full
    # The CLI resumes it too.
    cli("train", "--resume", e.value.checkpoint, "--out", tmp_path / "cli.safetensors", "-q")


def test_a_callback_error_stops_the_run_with_a_checkpoint(text, tmp_path):
    def boom(r):
        if r["step"] == 3:
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom") as e:
        charrnn.train(text=text, out=tmp_path / "m.safetensors", progress=False, callback=boom, **SMALL)
    notes = getattr(e.value, "__notes__", [])
    assert any("resumable checkpoint of step 4" in n for n in notes), notes


def test_gil_is_released(text, tmp_path):
    import threading
    import time

    ticks = []
    stop = threading.Event()

    def tick():
        while not stop.is_set():
            ticks.append(time.perf_counter())
            time.sleep(0.001)

    th = threading.Thread(target=tick)
    th.start()
    try:
        charrnn.train(text=text, out=tmp_path / "m.safetensors", progress=False,
                      **dict(SMALL, steps=300, hidden=64))
    finally:
        stop.set()
        th.join()
    assert len(ticks) > 20


@pytest.mark.parametrize(
    "kwargs, exc, match",
    [
        ({"lr": -1.0}, ValueError, "`lr` must be a positive number"),
        ({"cell": "transformer"}, ValueError, "transformer"),
        ({"seq_len": "long"}, TypeError, "seq_len"),
        ({"batch": 0}, ValueError, "`batch` must be at least 1"),
        ({"dropout": 1.5}, ValueError, "dropout"),
        ({"max_time": "soon"}, ValueError, "max_time"),
        ({"preset": "huge"}, ValueError, "huge"),
        ({"optim": "lion"}, ValueError, "lion"),
        ({"seq_len": 4000}, ValueError, "needs at least"),
    ],
)
def test_bad_options_raise(text, tmp_path, kwargs, exc, match):
    with pytest.raises(exc, match=match):
        charrnn.train(text=text, out=tmp_path / "m.safetensors", progress=False, **dict(dict(SMALL, steps=2), **kwargs))


def test_missing_files_raise(tmp_path):
    with pytest.raises(FileNotFoundError):
        charrnn.train(tmp_path / "nope.txt", out=tmp_path / "m.safetensors", progress=False, steps=2)
    with pytest.raises(FileNotFoundError):
        charrnn.train(resume=tmp_path / "nope.safetensors", progress=False)
    with pytest.raises(TypeError, match="unexpected keyword argument 'sed_len'"):
        charrnn.train(text="x", sed_len=3)


def test_diverged_raises(text, tmp_path):
    with pytest.raises(charrnn.DivergedError):
        charrnn.train(text=text, out=tmp_path / "m.safetensors", progress=False, optim="sgd", lr=1e6, clip=0.0,
                      **dict(SMALL, steps=50))


def test_fine_tuning_extends_the_vocabulary_and_freezes(corpus, tmp_path):
    base = charrnn.train(corpus, out=tmp_path / "base.safetensors", progress=False, **SMALL)
    new_text = "Grüße aus Köln, schöne Straße. " * 40
    assert "ü" not in base.vocab
    with pytest.raises(ValueError, match="extend-vocab|extend_vocab"):
        charrnn.train(text=new_text, init_from=tmp_path / "base.safetensors", steps=3, seq_len=16,
                      batch=4, out=tmp_path / "refused.safetensors", progress=False)
    tuned = charrnn.train(text=new_text, init_from=tmp_path / "base.safetensors", extend_vocab=True,
                          freeze=["embed"], steps=5, seq_len=16, batch=4, threads=1,
                          out=tmp_path / "tuned.safetensors", progress=False)
    assert "ü" in tuned.vocab and "ß" in tuned.vocab
    # Known characters keep their ids; the embedding rows of known characters stayed frozen.
    assert tuned.vocab[: len(base.vocab)] == base.vocab
    w0, w1 = base.weights["Wex"], tuned.weights["Wex"]  # the notebook's embedding, V x E or E x V
    v = len(base.vocab)
    if w0.shape[0] == v:
        np.testing.assert_array_equal(w1[:v], w0)
    else:
        np.testing.assert_array_equal(w1[:, :v], w0)
