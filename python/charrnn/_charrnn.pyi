"""Type stubs of the extension module (charrnn's Rust library). See the docstrings for more."""

from os import PathLike
from typing import Any, Dict, Iterator, List, Mapping, Optional, Tuple, Union

import numpy as np
import numpy.typing as npt

_Path = Union[str, "PathLike[str]"]

__version__: str
#: The keyword arguments :func:`charrnn.train` passes to the library (charrnn train's flags).
RUN_FIELDS: List[str]
#: The cells this build has: ``["rnn", "lstm", "gru", "mingru"]``.
CELLS: List[str]

class DivergedError(ArithmeticError):
    """Training diverged: a loss, gradient or weight became NaN, infinite or wildly large."""

class Interrupted(KeyboardInterrupt):
    """Training was interrupted after a whole step; a resumable checkpoint was written."""

    checkpoint: str
    step: int

class SampleIter(Iterator[str]):
    """The characters of a sample, yielded one by one as they are drawn."""

    def __iter__(self) -> "SampleIter": ...
    def __next__(self) -> str: ...

class Model:
    """A trained character-level model: weights, vocabulary, metadata and a state for step()."""

    outcome: Dict[str, Any]

    @staticmethod
    def load(path: _Path, dtype: str = "f32") -> "Model":
        """Load a checkpoint (``dtype``: ``"f32"`` or ``"f64"``, the arithmetic used)."""
    def save(self, path: _Path) -> None:
        """Write the model (without training state) to ``path``, atomically."""
    @property
    def path(self) -> Optional[str]: ...
    @property
    def dtype(self) -> str: ...
    @property
    def vocab(self) -> List[str]:
        """The characters the model knows, in id order."""
    @property
    def config(self) -> Dict[str, Any]:
        """cell, vocab_size, emb, hidden, layers, params, states."""
    @property
    def metadata(self) -> Dict[str, str]: ...
    @property
    def weights(self) -> Dict[str, npt.NDArray[np.floating[Any]]]:
        """The weights as numpy arrays under the checkpoint's names."""
    @property
    def layout(self) -> List[Tuple[str, List[int], int]]:
        """``(name, shape, start)`` of each tensor in the flat parameter buffer."""
    @property
    def state(self) -> Dict[str, npt.NDArray[np.floating[Any]]]:
        """The state step() carries: ``{"h": [L, H]}`` (and ``"c"`` for an LSTM)."""
    def encode(self, text: str) -> npt.NDArray[np.int64]: ...
    def decode(self, ids: List[int]) -> str: ...
    def sample(
        self,
        prime: Optional[str] = None,
        n: int = 500,
        temperature: Optional[float] = None,
        top_k: Optional[int] = None,
        top_p: Optional[float] = None,
        argmax: bool = False,
        beam: Optional[int] = None,
        seed: Optional[int] = None,
        stop: Optional[str] = None,
        unknown: str = "error",
    ) -> str:
        """Generate text, as ``charrnn sample`` does with the same settings."""
    def sample_iter(
        self,
        prime: Optional[str] = None,
        n: int = 500,
        temperature: Optional[float] = None,
        top_k: Optional[int] = None,
        top_p: Optional[float] = None,
        argmax: bool = False,
        seed: Optional[int] = None,
        stop: Optional[str] = None,
        unknown: str = "error",
    ) -> SampleIter:
        """sample() as an iterator of characters (the prime is not yielded)."""
    def score(
        self,
        text: Optional[str] = None,
        *,
        data: Optional[_Path] = None,
        unknown: str = "error",
        keep_cr: bool = False,
        seq_len: int = 128,
    ) -> Dict[str, float]:
        """The model's loss on a text, as ``charrnn score --json``."""
    def step(self, char: Union[str, int]) -> npt.NDArray[np.floating[Any]]:
        """One character in; the next character's probabilities ``[V]`` out."""
    def reset(self) -> None:
        """Zero the state step() carries."""

def train(
    options: Mapping[str, Any], reporter: Any, every_step: bool = False, samples: bool = True
) -> Dict[str, Any]: ...
def read_run(path: _Path) -> Dict[str, Any]: ...
def run_text(
    model: Model, run: str, data: Optional[_Path] = None, text: Optional[str] = None
) -> Tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]: ...
def write_checkpoint(
    path: _Path, tensors: Mapping[str, npt.NDArray[np.floating[Any]]], metadata: Mapping[str, str]
) -> None: ...
def checkpoint_name(step: int, val: Optional[float] = None) -> str: ...
def rotate_checkpoints(dir: _Path, step: int, keep: int) -> List[str]: ...
