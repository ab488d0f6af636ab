"""What a training run shows while it runs: the lines `charrnn train` prints (the header, the
notebook's ``iter N, loss: X``, samples, validation and checkpoint lines) and a progress bar
(tqdm, when installed: a widget in Jupyter) or nothing more; and a user's per-step callback.

A Reporter receives the run's events as ``event(kind, data)``; both the Rust training run
(``charrnn.train``) and the PyTorch one (``charrnn.torch.Run.train``) send them.
"""

import sys

__all__ = ["Reporter"]


def _tqdm():
    try:
        from tqdm.auto import tqdm
    except ImportError:
        return None
    return tqdm


class Reporter:
    """Shows a run's events and hands each step's record to ``callback``.

    ``progress``: None or True (a tqdm bar if tqdm is installed, else plain lines), ``"tqdm"``,
    ``"lines"`` (the notebook's lines only), or False (nothing).
    """

    def __init__(self, progress=None, callback=None, file=None):
        if progress not in (None, True, False, "tqdm", "lines"):
            raise ValueError(f'`progress` must be True, False, "tqdm" or "lines", got {progress!r}')
        tqdm = _tqdm() if progress in (None, True, "tqdm") else None
        if progress == "tqdm" and tqdm is None:
            raise ImportError('progress="tqdm" needs tqdm: pip install tqdm')
        self.show = progress is not False
        self.tqdm = tqdm
        self.callback = callback
        self.file = file
        self.bar = None
        self.info = None
        self.recent = None
        self.stopped = None

    # The run's events.
    def event(self, kind, data):
        getattr(self, "_" + kind)(data)

    def _note(self, d):
        self.write(f"note: {d['message']}")

    def _start(self, info):
        self.info = info
        total = info["total"]
        self.write(
            f"charrnn: {info['source']}: {info['chars']} characters ({info['val_chars']} for validation), "
            f"vocabulary {info['vocab_size']}; {info['cell']} E{info['emb']} H{info['hidden']} x{info['layers']} "
            f"({info['params']} parameters, {info['dtype']}); T{info['seq_len']} B{info['batch']}, {info['optim']} "
            + (f"{total} steps" if total is not None else "until `max_time`")
            + (f", resumed at step {info['start_step']}" if info["start_step"] else "")
        )
        if self.show and self.tqdm is not None:
            self.bar = self.tqdm(total=total, initial=info["start_step"], unit="step", dynamic_ncols=True,
                                 file=self.file, leave=True)

    def _sample(self, d):
        self.write(f"----\n {d['text']} \n----")

    def _step(self, r):
        if self.callback is not None:
            self.callback(r)
        if not self.show:
            return
        every = self.info["print_every"] if self.info else 0
        if every and r["step"] % every == 0:
            self.write(f"iter {r['step']}, loss: {r['smooth_loss']:.6f}")
        if r.get("val"):
            self._validation(dict(r["val"], step=r["step"] + 1))
        x = r["nats_per_char"]
        self.recent = x if self.recent is None else 0.9 * self.recent + 0.1 * x
        if self.bar is not None:
            self.bar.update(r["step"] + 1 - self.bar.n)
            self.bar.set_postfix(loss=f"{self.recent:.4f}", refresh=False)

    def _validation(self, d):
        self.write(f"step {d['step']}: validation loss {d['nats_per_char']:.4f} nats/char, "
                   f"{d['bits_per_char']:.4f} bits/char")

    def _checkpoint(self, d):
        self.write(f"step {d['step']}: saved {d['path']}")

    def _stopped(self, d):
        self.stopped = d
        self.close()
        if d["stop"] == "out_of_time" and d["checkpoint"]:
            self.write(f"`max_time` reached at step {d['step']}: saved {d['checkpoint']}")

    # Output.
    def write(self, line):
        if not self.show:
            return
        if self.bar is not None:
            self.bar.write(line, file=self.file)
        else:
            print(line, file=self.file or sys.stdout, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def done(self, outcome):
        self.write(
            f"done: {outcome['steps']} steps ({outcome['new_steps']} in {outcome['secs']:.1f} s, "
            f"{outcome['chars_per_s']:.0f} chars/s), smoothed loss {outcome['smooth_loss']:.4f} "
            f"({outcome['smooth_loss'] / outcome['seq_len']:.4f} nats/char); saved {outcome['out']}"
        )
