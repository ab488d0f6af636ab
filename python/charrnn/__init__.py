"""charrnn: character-level recurrent language models, trained and sampled on the CPU.

The Rust toolkit's library, in Python::

    import charrnn

    model = charrnn.train("input.txt", steps=2000)      # the notebook's RNN, as `charrnn train`
    print(model.sample("ROMEO:", n=300, temperature=0.8, seed=1))
    model.score("Some text to score.")                    # as `charrnn score --json`
    probs = model.step("a")                               # [V] numpy: what comes after "a"
    model.weights["Whh"]                                  # numpy, under the checkpoint's names

- :func:`train` runs ``charrnn train`` with the same options as keyword arguments;
- :class:`Model` loads, saves, samples, scores and steps a model;
- ``charrnn.torch`` carries a run to PyTorch (any device, DDP under torchrun) and back.

Errors are Python exceptions carrying ``charrnn``'s messages, settings named as the keyword
arguments: ``ValueError`` for settings and data, ``FileNotFoundError`` for missing files,
:class:`DivergedError` when training diverges, :class:`Interrupted` (a ``KeyboardInterrupt``)
when Ctrl-C or the notebook's stop button ends a run after writing a resumable checkpoint.
"""

from ._charrnn import (
    CELLS,
    RUN_FIELDS,
    DivergedError,
    Interrupted,
    Model,
    SampleIter,
    __version__,
)
from ._charrnn import train as _train
from ._report import Reporter

__all__ = ["train", "Model", "SampleIter", "DivergedError", "Interrupted", "CELLS", "__version__"]


def train(
    data=None,
    *,
    text=None,
    progress=None,
    callback=None,
    resume=None,
    init_from=None,
    extend_vocab=None,
    keep_optimizer=None,
    freeze=None,
    preset=None,
    keep_cr=None,
    max_vocab=None,
    min_count=None,
    dtype=None,
    cell=None,
    layers=None,
    emb=None,
    hidden=None,
    init=None,
    std=None,
    seed=None,
    dropout=None,
    seq_len=None,
    batch=None,
    optim=None,
    lr=None,
    lr_decay=None,
    lr_decay_every=None,
    cosine=None,
    linear=None,
    warmup=None,
    lr_min=None,
    beta1=None,
    beta2=None,
    alpha=None,
    momentum=None,
    eps=None,
    clip=None,
    clip_mode=None,
    clip_embedding=None,
    threads=None,
    steps=None,
    epochs=None,
    max_time=None,
    val_frac=None,
    eval_every=None,
    run_dir=None,
    overwrite=None,
    out=None,
    metrics=None,
    checkpoint_dir=None,
    checkpoint_every=None,
    keep=None,
    print_every=None,
    sample_every=None,
    sample_len=None,
):
    """Train a model, as ``charrnn train`` does with the same options, and return it.

    Every option is ``charrnn train``'s flag of the same name (``--seq-len`` is ``seq_len``);
    one left at ``None`` takes the default of a new run, or the saved value of a resumed one.
    The run is the CLI's: the same steps, losses and files (a run directory ``runs/N`` unless
    ``out`` or ``run_dir`` is given; checkpoints; ``metrics``).

    Text:
        data: a UTF-8 text file (a path) to train on; or
        text: the text itself, a ``str`` (give it again to resume such a run).
        keep_cr, max_vocab, min_count: as the flags.

    Recipe: ``preset`` (``"tiny"``, ``"small"``, ``"medium"``, ``"large"``, ``"auto"``): a
        named recipe filling every model, optimizer and schedule option left unset (new runs).
    Model: ``cell`` (``"rnn"``, ``"lstm"``, ``"gru"``, ``"mingru"``), ``layers``, ``emb``,
        ``hidden``, ``dropout``, ``init`` (``"notebook"``, ``"torch"``), ``std``, ``seed``,
        ``dtype`` (``"f32"``, ``"f64"``).
    Optimization: ``seq_len``, ``batch``, ``optim`` (``"adagrad"``, ``"adam"``, ``"rmsprop"``,
        ``"sgd"``), ``lr``, ``lr_decay``, ``lr_decay_every``, ``cosine``, ``linear``,
        ``warmup``, ``lr_min``, ``beta1``, ``beta2``, ``alpha``, ``momentum``, ``eps``,
        ``clip``, ``clip_mode`` (``"value"``, ``"norm"``), ``clip_embedding``, ``threads``.
    Stopping: ``steps``, ``epochs``, ``max_time`` (seconds, a ``datetime.timedelta`` or a
        string such as ``"10m"``), all counted across resumes.
    Validation: ``val_frac``, ``eval_every``.
    Fine-tuning (with ``init_from``; docs/finetune.md): ``extend_vocab`` (add the text's new
        characters to the model's vocabulary, leaving its predictions unchanged at step 0),
        ``keep_optimizer`` (carry the checkpoint's optimizer state), ``freeze`` (a list of
        ``"embed"``, ``"rnn"``, ``"rnn.K"``, ``"out"``: the parts that do not train).
    Files: ``resume`` (a checkpoint to continue exactly), ``init_from`` (weights to start
        from), ``run_dir``, ``out``, ``overwrite``, ``metrics``, ``checkpoint_dir``,
        ``checkpoint_every``, ``keep``.
    Reports: ``print_every`` (the notebook's ``iter N, loss: X`` lines), ``sample_every``,
        ``sample_len``.

    Args:
        progress: ``None``/``True``: a progress bar (tqdm, if installed) and the lines
            ``charrnn train`` prints; ``"lines"``: the lines only; ``False``: nothing.
        callback: called after every step with the step's record, a dict with the keys of a
            ``metrics`` row: ``step``, ``epoch``, ``loss`` (summed over the window, the
            notebook's), ``nats_per_char``, ``smooth_loss``, ``lr``, ``grad_norm``,
            ``clip_fraction``, ``chars_per_s``, ``elapsed``, ``secs``, ``val``. An exception
            it raises stops the run like Ctrl-C (a checkpoint is written) and is re-raised.

    Returns:
        The trained :class:`Model` (loaded from the file the run wrote, in the run's dtype);
        ``model.outcome`` says how the run ended (``steps``, ``secs``, ``chars_per_s``,
        ``smooth_loss``, ``val``, ``checkpoint``, ``out``, ``stop``).

    Raises:
        Interrupted: Ctrl-C (or the notebook's stop button) stopped the run after a step and
            a resumable checkpoint was written: ``e.checkpoint``; continue with
            ``charrnn.train(resume=e.checkpoint)``.
        ValueError, TypeError: a bad option (the message names it); FileNotFoundError: a
            missing file; DivergedError: training diverged.
    """
    options = {k: v for k, v in locals().items() if k not in ("progress", "callback") and v is not None}
    reporter = Reporter(progress, callback)
    try:
        outcome = _train(options, reporter, every_step=callback is not None, samples=reporter.show)
    finally:
        reporter.close()
    run_dtype = reporter.info["dtype"] if reporter.info else "f32"
    model = Model.load(outcome["out"], dtype=run_dtype)
    model.outcome = outcome
    reporter.done(outcome)
    return model
