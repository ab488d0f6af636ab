"""Carry a charrnn run to PyTorch and back.

A resumable checkpoint written by ``charrnn train`` (or :func:`charrnn.train`) holds the whole
run: weights, optimizer state, the hidden states carried from window to window, the data
position and the settings. :class:`Run` rebuilds it in PyTorch and continues it exactly as
charrnn would (the same windows, loss, gradient clipping, optimizer and learning-rate
schedule), on any device; :meth:`Run.save` writes a charrnn checkpoint back that
``charrnn train --resume`` continues and ``charrnn sample`` samples::

    from charrnn.torch import Run

    run = Run.load("runs/1/checkpoints/ckpt-step00002000.safetensors", device="cuda")
    run.train(steps=100_000)           # steps counted across the whole run, as `--steps`
    path = run.save()                  # runs/1/checkpoints/ckpt-step00100000.safetensors

Under ``torchrun`` a :class:`Run` trains data-parallel (``DistributedDataParallel``): each
rank takes its share of the ``batch`` streams (``batch`` must divide by the world size), the
gradients are summed across ranks, and every rank applies the same update; :meth:`Run.save`
gathers the carried states and writes on rank 0 only.

Cells: the notebook's tanh RNN, and ``rnn``, ``lstm`` and ``gru`` of any depth (PyTorch's
``nn.RNN``, ``nn.LSTM`` and ``nn.GRU``, whose parameter names charrnn's files already use).
``mingru`` has no PyTorch counterpart and is **not supported**: :meth:`Run.load` refuses it.

What differs from charrnn: dropout masks come from PyTorch's generator, not charrnn's (a run
with ``dropout`` continues, but not with charrnn's masks); the validation text is not scored
and no samples are drawn while training in PyTorch (score and sample the checkpoint written
back); a schedule that ends with ``max_time`` reads the seconds trained in all, as charrnn.

This module imports torch when it is imported: ``import charrnn`` alone never does.
"""

import json
import math
import os
import time

import numpy as np
import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from . import _charrnn
from ._report import Reporter

__all__ = ["Run", "CharRNN", "SUPPORTED_CELLS"]

#: The cells :class:`Run` can carry to PyTorch.
SUPPORTED_CELLS = ("rnn", "lstm", "gru")

_TORCH_DTYPE = {"f32": torch.float32, "f64": torch.float64}
_NP_DTYPE = {"f32": np.float32, "f64": np.float64}


class CharRNN(nn.Module):
    """charrnn's model in PyTorch: embedding -> recurrent layers -> linear output.

    The parameters are named as in charrnn's files: the notebook's ``Wex``, ``Wxh``, ``Whh``,
    ``Why``, ``bh``, ``by`` for the one-layer tanh RNN, else ``embed.weight``,
    ``rnn.weight_ih_l{k}``, ... (``nn.RNN``/``nn.LSTM``/``nn.GRU``), ``out.weight``,
    ``out.bias``. So ``model.state_dict()`` loads charrnn's weights by name.

    ``forward(inputs, state)`` takes ``inputs`` ``[T, B]`` (ids, time-major, as charrnn) and
    the state carried in (a tuple of ``[L, B, H]``: ``(h,)``, or ``(h, c)`` for an LSTM) and
    returns the logits ``[T, B, V]`` and the state after the window.
    """

    def __init__(self, cell, vocab_size, emb, hidden, layers, notebook, dropout=0.0):
        super().__init__()
        if cell not in SUPPORTED_CELLS:
            raise ValueError(
                f"cell {cell!r} has no PyTorch counterpart: charrnn.torch supports "
                f"{', '.join(SUPPORTED_CELLS)} (mingru runs only in charrnn)"
            )
        self.cell, self.notebook = cell, notebook
        self.vocab_size, self.emb, self.hidden, self.layers = vocab_size, emb, hidden, layers
        self.n_states = 2 if cell == "lstm" else 1
        if notebook:
            if cell != "rnn" or layers != 1:
                raise ValueError("the notebook's naming is the one-layer tanh RNN's")
            self.Wex = nn.Parameter(torch.empty(emb, vocab_size))
            self.Wxh = nn.Parameter(torch.empty(hidden, emb))
            self.Whh = nn.Parameter(torch.empty(hidden, hidden))
            self.Why = nn.Parameter(torch.empty(vocab_size, hidden))
            self.bh = nn.Parameter(torch.empty(hidden, 1))
            self.by = nn.Parameter(torch.empty(vocab_size, 1))
        else:
            self.embed = nn.Embedding(vocab_size, emb)
            kind = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}[cell]
            self.rnn = kind(emb, hidden, layers, dropout=dropout if layers > 1 else 0.0)
            self.out = nn.Linear(hidden, vocab_size)
        self.drop = nn.Dropout(dropout) if dropout > 0 else None

    def zero_state(self, batch, device=None, dtype=None):
        """The zero state for ``batch`` streams: a tuple of ``[L, B, H]``."""
        p = next(self.parameters())
        return tuple(
            torch.zeros(self.layers, batch, self.hidden, device=device or p.device, dtype=dtype or p.dtype)
            for _ in range(self.n_states)
        )

    def forward(self, inputs, state):
        if self.notebook:
            x = self.Wex.t()[inputs]  # [T, B, E]
            pre = x @ self.Wxh.t() + self.bh.t()
            h = state[0][0]
            hs = []
            for t in range(inputs.shape[0]):
                h = torch.tanh(pre[t] + h @ self.Whh.t())
                hs.append(h)
            y = torch.stack(hs)
            if self.drop is not None:
                y = self.drop(y)
            return y @ self.Why.t() + self.by.t(), (h.unsqueeze(0),)
        x = self.embed(inputs)
        st = (state[0], state[1]) if self.cell == "lstm" else state[0]
        y, st = self.rnn(x, st)
        if self.drop is not None:
            y = self.drop(y)
        new = tuple(st) if self.cell == "lstm" else (st,)
        return self.out(y), new


def _distributed():
    """(rank, world size) of the torchrun job this process belongs to, starting the process
    group if torchrun started us and nobody has yet; (0, 1) outside torchrun."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    if int(os.environ.get("WORLD_SIZE", "1")) > 1 and dist.is_available():
        backend = "nccl" if torch.cuda.is_available() else "gloo"
        dist.init_process_group(backend)
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class Run:
    """A charrnn training run continued in PyTorch. Make one with :meth:`Run.load`.

    Attributes:
        model: the :class:`CharRNN` (its weights live here while the run is in PyTorch).
        step: steps done in all; ``epochs``, ``smooth_loss``, ``optim_t`` as in charrnn.
        config: the trainer's settings (``train.config``: ``seq_len``, ``batch``, ``lr``,
            ``optim``, ``clip``, ...); ``record``: the run's (``train.run``: ``steps``,
            ``epochs``, ``checkpoint_dir``, ...).
        device, dtype (``"f32"``/``"f64"``), rank, world_size.
    """

    @classmethod
    def load(cls, path, device=None, data=None, text=None):
        """Rebuild the run saved in the resumable checkpoint ``path`` on ``device``.

        Args:
            path: a checkpoint ``charrnn train`` wrote (``runs/N/checkpoints/ckpt-step*.safetensors``).
            device: a torch device (default: ``cuda:LOCAL_RANK`` under torchrun with CUDA,
                else ``cuda`` if available, else ``cpu``).
            data: the text file, if it is not where the run's settings say (it must be the
                same text: its fingerprint is checked).
            text: the text itself, for a run trained on a text in memory.

        Raises:
            FileNotFoundError, ValueError: as ``charrnn train --resume`` would; ValueError for
            a ``mingru`` run.
        """
        return cls(os.fspath(path), device, data, text)

    def __init__(self, path, device=None, data=None, text=None):
        saved = _charrnn.read_run(path)
        self.path = path
        self.source = saved["model"]
        meta = self.source.metadata
        self.metadata = dict(meta)
        self.config = json.loads(meta["train.config"])
        self.record = json.loads(meta["train.run"])
        self.state_record = json.loads(meta["train.state"])
        self.dtype = saved["dtype"]
        cfg = self.source.config
        if cfg["cell"] not in SUPPORTED_CELLS:
            raise ValueError(
                f"{path}: a {cfg['cell']} run cannot be carried to PyTorch: charrnn.torch supports "
                f"{', '.join(SUPPORTED_CELLS)} ({cfg['cell']} has no PyTorch counterpart; train it with charrnn)"
            )
        self.rank, self.world_size = _distributed()
        if device is None:
            if torch.cuda.is_available():
                device = f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if self.world_size > 1 else "cuda"
            else:
                device = "cpu"
        self.device = torch.device(device)
        tdt = _TORCH_DTYPE[self.dtype]
        self.layout = self.source.layout
        notebook = self.layout[0][0] == "Wex"
        model = CharRNN(cfg["cell"], cfg["vocab_size"], cfg["emb"], cfg["hidden"], cfg["layers"], notebook,
                        self.config["dropout"])
        weights = self.source.weights
        model.load_state_dict({k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in weights.items()})
        self.model = model.to(device=self.device, dtype=tdt)
        self.params = dict(self.model.named_parameters())

        # The optimizer's state, flat in layout order in the file: per tensor here.
        def split(flat):
            if flat is None:
                return None
            t = torch.from_numpy(np.asarray(flat)).to(device=self.device, dtype=tdt)
            return {name: t[start:start + int(np.prod(shape))].view(*shape).clone()
                    for name, shape, start in self.layout}

        self.optim_m = split(saved["optim_m"])
        self.optim_v = split(saved["optim_v"])
        self.step, self.epochs = saved["step"], saved["epochs"]
        self.cursor_p, self.cursor_n = saved["cursor_p"], saved["cursor_n"]
        self.smooth_loss, self.optim_t = saved["smooth_loss"], saved["optim_t"]

        # The text, cut into streams exactly as charrnn cuts it.
        train_ids, _ = _charrnn.run_text(self.source, meta["train.run"],
                                         None if data is None else os.fspath(data), text)
        self.seq_len, self.batch = self.config["seq_len"], self.config["batch"]
        T, B = self.seq_len, self.batch
        if B % self.world_size:
            raise ValueError(f"`batch` {B} does not divide among {self.world_size} processes: "
                             "run torchrun with a number of processes that divides it")
        bound = len(train_ids) // (T * B) * (T * B)
        self.stream_len = bound // B
        self.per_rank = B // self.world_size
        first = self.rank * self.per_rank
        streams = torch.from_numpy(train_ids[:bound]).view(B, self.stream_len)
        self.streams = streams[first:first + self.per_rank].to(self.device)
        names = ("h", "c") if cfg["cell"] == "lstm" else ("h",)
        self.state = tuple(
            torch.from_numpy(np.ascontiguousarray(saved["states"][n][:, first:first + self.per_rank]))
            .to(device=self.device, dtype=tdt) for n in names)
        self.state_names = names
        self.embed_name = "Wex" if notebook else "embed.weight"
        self.net = self.model
        if self.world_size > 1:
            ids = [self.device.index] if self.device.type == "cuda" else None
            self.net = nn.parallel.DistributedDataParallel(self.model, device_ids=ids, broadcast_buffers=False)
        self.elapsed = float(self.record.get("elapsed", 0.0))
        self._started = None

    # The schedule, as charrnn's `TrainConfig::lr_at`.
    def lr_at(self, step, secs):
        """The learning rate of step ``step``, ``secs`` seconds into the run (charrnn's)."""
        c = self.config
        lr, kind = c["lr"], c["schedule"]
        if kind == "step":
            lr = lr * c["lr_decay"] ** (step // max(c["lr_decay_every"], 1))
        elif kind in ("cosine", "linear"):
            by_steps = step / c["cosine_total"] if c["cosine_total"] > 0 else 0.0
            by_time = secs / c["anneal_seconds"] if c.get("anneal_seconds", 0) > 0 else 0.0
            x = min(max(by_steps, by_time, 0.0), 1.0)
            f = 0.5 * (1.0 + math.cos(math.pi * x)) if kind == "cosine" else 1.0 - x
            lr = c["lr_min"] + (lr - c["lr_min"]) * f
        w = c.get("warmup", 0)
        return lr * (1.0 if step >= w else (step + 1) / w)

    def _window(self):
        T, L = self.seq_len, self.stream_len
        if self.cursor_n == 0 or self.cursor_p + T + 1 >= L:
            start, reset = 0, True
        else:
            start, reset = self.cursor_p, False
        self.cursor_p = start + T
        self.cursor_n += 1
        return start, reset

    def train_step(self):
        """Train on the next window; returns the step's record (the keys of charrnn's)."""
        if self._started is None:
            self._started = time.perf_counter()
        c = self.config
        T, B = self.seq_len, self.batch
        start, reset = self._window()
        window = self.streams[:, start:start + T + 1].t()  # [T+1, B/W]
        inputs, targets = window[:-1], window[1:]
        state = self.model.zero_state(self.per_rank) if reset else self.state
        self.model.train()
        self.model.zero_grad(set_to_none=False)
        logits, new_state = self.net(inputs, state)
        loss = F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="sum")
        # Each rank's gradient of its streams' loss / B, times W: DDP's mean is then the sum.
        (loss * (self.world_size / B)).backward()
        self.state = tuple(s.detach() for s in new_state)
        loss = loss.detach()
        if self.world_size > 1:
            dist.all_reduce(loss)
        loss = float(loss)
        grads = {n: p.grad for n, p in self.params.items() if p.requires_grad}
        norm, fraction = self._clip(grads)
        if not (math.isfinite(loss) and math.isfinite(norm)):
            raise _charrnn_diverged(self.step, loss, norm)
        if reset:
            self.epochs += 1
        self.smooth_loss = self.smooth_loss * 0.999 + loss / B * 0.001
        secs = time.perf_counter() - self._started
        lr = self.lr_at(self.step, self.elapsed + secs)
        self._update(grads, lr)
        rec = {
            "step": self.step, "epoch": self.epochs, "loss": loss, "nats_per_char": loss / (T * B),
            "smooth_loss": self.smooth_loss, "lr": lr, "grad_norm": norm, "clip_fraction": fraction,
            "chars_per_s": 0.0, "elapsed": self.elapsed + secs, "secs": secs, "val": None,
        }
        self.step += 1
        self._steps_here = getattr(self, "_steps_here", 0) + 1
        rec["chars_per_s"] = self._steps_here * T * B / max(secs, 1e-9)
        return rec

    @torch.no_grad()
    def _clip(self, grads):
        c = self.config
        norm = math.sqrt(sum(float((g.double() ** 2).sum()) for g in grads.values()))
        bound = c["clip"]
        if bound is None:
            return norm, 0.0
        n_all = sum(g.numel() for g in grads.values())
        if c["clip_mode"] == "value":
            n = 0
            for name, g in grads.items():
                if name == self.embed_name and not c["clip_embedding"]:
                    continue
                n += int((g.abs() > bound).sum())
                g.clamp_(-bound, bound)
            return norm, n / max(n_all, 1)
        if norm > bound:
            s = bound / (norm + 1e-6)
            for g in grads.values():
                g.mul_(s)
            return norm, 1.0
        return norm, 0.0

    @torch.no_grad()
    def _update(self, grads, lr):
        """charrnn's optimizers, element by element as `optim::Optimizer::step`."""
        c = self.config
        self.optim_t += 1
        kind, eps = c["optim"], c["eps"]
        for name, g in grads.items():
            w, m = self.params[name], self.optim_m[name]
            if kind == "adagrad":
                m.add_(g * g)
                w.add_((-lr) * g / (m + eps).sqrt())
            elif kind == "adam":
                t = self.optim_t
                b1, b2 = c["beta1"], c["beta2"]
                v = self.optim_v[name]
                step_size = lr / (1.0 - b1 ** t)
                bc2_sqrt = math.sqrt(1.0 - b2 ** t)
                m.copy_(m * b1 + g * (1.0 - b1))
                v.copy_(v * b2 + g * g * (1.0 - b2))
                w.sub_(step_size * (m / (v.sqrt() / bc2_sqrt + eps)))
            elif kind == "rmsprop":
                a = c["alpha"]
                m.copy_(m * a + g * g * (1.0 - a))
                w.sub_(lr * (g / (m.sqrt() + eps)))
            elif kind == "sgd":
                mu = c["momentum"]
                if mu == 0.0:
                    w.sub_(lr * g)
                else:
                    m.copy_(g if self.optim_t == 1 else m * mu + g)
                    w.sub_(lr * m)
            else:
                raise ValueError(f"unknown optimizer {kind!r} in \"train.config\"")

    def _total(self):
        """The step the run stops at (`steps`, or the end of `epochs`), if known."""
        rec = self.record
        ends = []
        if rec.get("steps") is not None:
            ends.append(rec["steps"])
        if rec.get("epochs") is not None:
            T, L = self.seq_len, self.stream_len
            per_epoch = max(-(-(L - T - 1) // T), 1)
            ends.append(rec["epochs"] * per_epoch)
        return min(ends) if ends else None

    def train(self, steps=None, callback=None, progress=None, checkpoint_every=None, keep=None):
        """Train until ``steps`` steps in all (as ``charrnn train --steps``, counted across
        the whole run; default: the run's own end), reporting as :func:`charrnn.train`.

        Args:
            steps: stop after this many steps in all.
            callback: called with every step's record (a dict).
            progress: as :func:`charrnn.train`'s (rank 0 only shows anything).
            checkpoint_every: also write a checkpoint every N steps (rank 0 writes).
            keep: keep the last ``keep`` checkpoints in the run's checkpoint directory.

        Returns:
            The list of step records. A ``KeyboardInterrupt`` writes a checkpoint first
            (:meth:`save`) and is raised again, as in charrnn.
        """
        if steps is not None:
            # New stopping rules replace the saved ones, as `--steps` on a resume.
            self.record.update(steps=steps, epochs=None, max_time=None)
        total = self._total()
        if total is None:
            raise ValueError("the run has no end in steps or epochs: give `steps`")
        if total <= self.step:
            raise ValueError(f"`steps` {total} (the total, counted across resumes) leaves nothing to train: "
                             f"the run is at step {self.step}")
        c = self.config
        if c["schedule"] in ("cosine", "linear"):
            # The schedule ends with the run, also when its end moves (as charrnn's resume).
            seconds = self.record.get("max_time") or 0.0
            if (total, seconds) != (c["cosine_total"], c.get("anneal_seconds", 0.0)):
                c["cosine_total"], c["anneal_seconds"] = total, seconds
        reporter = Reporter(progress if self.rank == 0 else False, callback)
        info = self._info(total)
        reporter.event("start", info)
        records = []
        try:
            while self.step < total:
                rec = self.train_step()
                records.append(rec)
                reporter.event("step", rec)
                if checkpoint_every and self.step % checkpoint_every == 0:
                    p = self.save(keep=keep)
                    reporter.event("checkpoint", {"step": self.step, "path": p})
        except KeyboardInterrupt:
            p = self.save(keep=keep)
            reporter.close()
            if self.rank == 0:
                print(f"interrupted after step {self.step}: saved {p}")
            raise
        finally:
            reporter.close()
        return records

    def _info(self, total):
        cfg = self.source.config
        return {
            "source": self.record.get("data") or "the text given", "chars": self.stream_len * self.batch,
            "val_chars": 0, "cell": cfg["cell"], "vocab_size": cfg["vocab_size"], "emb": cfg["emb"],
            "hidden": cfg["hidden"], "layers": cfg["layers"], "params": cfg["params"], "dtype": self.dtype,
            "seq_len": self.seq_len, "batch": self.batch, "optim": self.config["optim"],
            "threads": self.world_size, "total": total, "start_step": self.step, "max_time": None,
            "print_every": self.record.get("print_every", 1000), "out": self.record.get("out"),
            "checkpoint_dir": self.record.get("checkpoint_dir"),
        }

    def _gathered_states(self):
        """The carried states of every stream, ``[L, B, H]`` each (all ranks take part)."""
        if self.world_size == 1:
            return [s.detach() for s in self.state]
        out = []
        for s in self.state:
            parts = [torch.empty_like(s) for _ in range(self.world_size)]
            if dist.get_backend() == "nccl":
                dist.all_gather(parts, s.contiguous())
            else:
                dist.all_gather(parts, s.contiguous())
            out.append(torch.cat(parts, dim=1))
        return out

    def tensors(self):
        """The checkpoint's tensors as numpy arrays, in the run's dtype: the weights under
        their names, ``train.optim.m``/``train.optim.v`` (flat, layout order) and
        ``train.state.{h,c}`` ``[L, B, H]``. Every rank must call it under torchrun."""
        npdt = _NP_DTYPE[self.dtype]
        conv = lambda t: t.detach().to("cpu").numpy().astype(npdt, copy=False)  # noqa: E731
        out = {name: conv(p) for name, p in self.model.state_dict().items() if name in dict(self.layout_names())}
        order = [name for name, _, _ in self.layout]
        out["train.optim.m"] = np.concatenate([conv(self.optim_m[n]).reshape(-1) for n in order])
        if self.optim_v is not None:
            out["train.optim.v"] = np.concatenate([conv(self.optim_v[n]).reshape(-1) for n in order])
        for name, s in zip(self.state_names, self._gathered_states()):
            out[f"train.state.{name}"] = np.ascontiguousarray(conv(s))
        return out

    def layout_names(self):
        return [(name, shape) for name, shape, _ in self.layout]

    def save(self, path=None, keep=None):
        """Write the run as a resumable charrnn checkpoint, atomically (rank 0 writes; every
        rank must call it under torchrun). ``charrnn train --resume PATH`` continues it.

        Args:
            path: where (default: the run's checkpoint directory, named as charrnn names
                checkpoints: ``ckpt-stepNNNNNNNN.safetensors``).
            keep: keep only the last ``keep`` checkpoints there (as ``--keep``).

        Returns:
            The path written.
        """
        tensors = self.tensors()
        secs = time.perf_counter() - self._started if self._started is not None else 0.0
        meta = dict(self.metadata)
        st = dict(self.state_record)
        st.update(step=self.step, epochs=self.epochs, cursor_p=self.cursor_p, cursor_n=self.cursor_n,
                  smooth_loss=self.smooth_loss, optim_t=self.optim_t)
        meta["train.state"] = json.dumps(st)
        meta["train.config"] = json.dumps(self.config)
        rec = dict(self.record)
        rec["elapsed"] = self.elapsed + secs
        meta["train.run"] = json.dumps(rec)
        meta["steps"] = str(self.step)
        meta["smooth_loss"] = repr(float(self.smooth_loss))
        meta.pop("val_loss", None)
        if path is None:
            d = rec["checkpoint_dir"]
            path = os.path.join(d, _charrnn.checkpoint_name(self.step, None))
        path = os.fspath(path)
        if self.rank == 0:
            d = os.path.dirname(path)
            if d:
                os.makedirs(d, exist_ok=True)
            _charrnn.write_checkpoint(path, tensors, meta)
            if keep:
                _charrnn.rotate_checkpoints(os.path.dirname(path) or ".", self.step, keep)
        if self.world_size > 1:
            dist.barrier()
        return path


def _charrnn_diverged(step, loss, norm):
    from . import DivergedError

    what = f"the loss became {loss}" if not math.isfinite(loss) else f"the gradient norm became {norm}"
    return DivergedError(f"training diverged at step {step}: {what}: the steps are too large")


def main(argv=None):
    """``python -m charrnn.torch CHECKPOINT --steps N`` (or under ``torchrun``): continue a
    charrnn run in PyTorch, then write the checkpoint back."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m charrnn.torch", description=main.__doc__)
    p.add_argument("checkpoint", help="a resumable checkpoint charrnn train wrote")
    p.add_argument("--steps", type=int, help="stop after this many steps in all (default: the run's end)")
    p.add_argument("--device", help="torch device (default: cuda if available, else cpu)")
    p.add_argument("--data", help="the run's text file, if it is not where the run says")
    p.add_argument("--out", help="where to write the checkpoint (default: the run's checkpoint directory)")
    p.add_argument("--checkpoint-every", type=int, help="also write a checkpoint every N steps")
    p.add_argument("--keep", type=int, help="keep the last K checkpoints in the run's checkpoint directory")
    a = p.parse_args(argv)
    run = Run.load(a.checkpoint, device=a.device, data=a.data)
    try:
        run.train(steps=a.steps, checkpoint_every=a.checkpoint_every, keep=a.keep)
    except KeyboardInterrupt:
        return 130
    path = run.save(a.out, keep=a.keep)
    if run.rank == 0:
        print(path)
    if run.world_size > 1:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
