"""Type stub of bpcore's C++ core (``bpcore._core``; ``_core_avx2`` and ``_core_avx512`` are the
same module built for wider vector units). Private: use the ``bpcore`` package.

Defaults of the option structs are written ``...``: the core's structs are their one source
(``bpcore._names.OPTIMIZER_DEFAULTS`` and ``EPOCH_DEFAULTS`` read them).
"""

from collections.abc import Callable
from typing import Any, TypedDict, overload

import numpy as np
from numpy.typing import ArrayLike, NDArray

__version__: str
simd: str
common_optimizer_options: tuple[str, ...]

class _ActivationEntry(TypedDict):
    name: str
    hidden: bool
    from_output: bool
    learnable: bool
    formula: str
    derivative_formula: str

class _LossEntry(TypedDict):
    name: str
    output_activation: str | None
    delta_is_error: bool
    task: str
    formula: str

class _OptimizerEntry(TypedDict):
    name: str
    options: tuple[str, ...]
    full_batch: bool

def has_openmp() -> bool: ...
def in_epoch_poll() -> bool: ...
def default_threads() -> int: ...
def cpu_supports(feature: str) -> bool: ...
def activation_table() -> list[_ActivationEntry]: ...
def loss_table() -> list[_LossEntry]: ...
def optimizer_table() -> list[_OptimizerEntry]: ...
def init_names() -> list[str]: ...
def schedule_names() -> list[str]: ...
@overload
def activate(  # type: ignore[overload-overlap]
    name: str, z: NDArray[np.float32], alpha: float = ...
) -> NDArray[np.float32]: ...
@overload
def activate(name: str, z: NDArray[np.float64], alpha: float = ...) -> NDArray[np.float64]: ...
@overload
def derivative(  # type: ignore[overload-overlap]
    name: str, z: NDArray[np.float32], alpha: float = ...
) -> NDArray[np.float32]: ...
@overload
def derivative(name: str, z: NDArray[np.float64], alpha: float = ...) -> NDArray[np.float64]: ...
@overload
def first_nonfinite(a: NDArray[np.float32], n_threads: int = 0) -> int: ...
@overload
def first_nonfinite(a: NDArray[np.float64], n_threads: int = 0) -> int: ...
def epoch_permutation(n: int, seed: int, epoch: int) -> NDArray[np.int64]: ...

class Csr32:
    """A CSR matrix over NumPy arrays read in place: data (float32), indices and indptr (both
    int32 or both int64), checked when made (sorted indices, no duplicates, in range)."""

    def __init__(
        self,
        data: NDArray[np.float32],
        indices: NDArray[np.int32] | NDArray[np.int64],
        indptr: NDArray[np.int32] | NDArray[np.int64],
        shape: tuple[int, int],
    ) -> None: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def nnz(self) -> int: ...

class Network32:
    def __init__(self, sizes: list[int], activations: list[str], loss: str) -> None: ...
    @property
    def n_layers(self) -> int: ...
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    @property
    def loss_name(self) -> str: ...
    @property
    def sizes(self) -> list[int]: ...
    @property
    def activations(self) -> list[str]: ...
    @property
    def cached_rows(self) -> int: ...
    @property
    def has_delta(self) -> bool: ...
    def layout(self, k: int) -> tuple[int, int, int]: ...
    def initialize(self, init: str, seed: int, scale: float = ...) -> None: ...
    def params(self) -> NDArray[np.float32]: ...
    def grads(self) -> NDArray[np.float32]: ...
    def weight(self, k: int) -> NDArray[np.float32]: ...
    def bias(self, k: int) -> NDArray[np.float32]: ...
    def forward(
        self,
        X: NDArray[np.float32] | Csr32,
        n_threads: int = 0,
        dropout_seed: int | None = None,
        dropout_epoch: int = 0,
        first_row: int = 0,
    ) -> None: ...
    def backward(
        self,
        X: NDArray[np.float32] | Csr32,
        Y: NDArray[np.float32],
        sample_weight: NDArray[np.float32] | None = None,
        n_threads: int = 0,
        dropout_seed: int | None = None,
        dropout_epoch: int = 0,
        first_row: int = 0,
    ) -> float: ...
    def loss(
        self,
        X: NDArray[np.float32] | Csr32,
        Y: NDArray[np.float32],
        sample_weight: NDArray[np.float32] | None = None,
        n_threads: int = 0,
    ) -> float: ...
    def predict(
        self, X: NDArray[np.float32] | Csr32, n_threads: int = 0
    ) -> tuple[NDArray[np.float32], bool]: ...
    def cached_Z(self, k: int) -> NDArray[np.float32]: ...
    def cached_H(self, k: int) -> NDArray[np.float32]: ...
    def cached_delta(self, k: int) -> NDArray[np.float32]: ...
    def release_workspace(self) -> None: ...
    @property
    def dropout(self) -> list[float]: ...
    @dropout.setter
    def dropout(self, rates: list[float]) -> None: ...
    @property
    def has_dropout(self) -> bool: ...
    def has_mask(self, k: int) -> bool: ...
    def cached_mask(self, k: int) -> NDArray[np.float32]: ...

class Csr64:
    """A CSR matrix over NumPy arrays read in place: data (float64), indices and indptr (both
    int32 or both int64), checked when made (sorted indices, no duplicates, in range)."""

    def __init__(
        self,
        data: NDArray[np.float64],
        indices: NDArray[np.int32] | NDArray[np.int64],
        indptr: NDArray[np.int32] | NDArray[np.int64],
        shape: tuple[int, int],
    ) -> None: ...
    @property
    def shape(self) -> tuple[int, int]: ...
    @property
    def nnz(self) -> int: ...

class Network64:
    def __init__(self, sizes: list[int], activations: list[str], loss: str) -> None: ...
    @property
    def n_layers(self) -> int: ...
    @property
    def n_inputs(self) -> int: ...
    @property
    def n_outputs(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    @property
    def loss_name(self) -> str: ...
    @property
    def sizes(self) -> list[int]: ...
    @property
    def activations(self) -> list[str]: ...
    @property
    def cached_rows(self) -> int: ...
    @property
    def has_delta(self) -> bool: ...
    def layout(self, k: int) -> tuple[int, int, int]: ...
    def initialize(self, init: str, seed: int, scale: float = ...) -> None: ...
    def params(self) -> NDArray[np.float64]: ...
    def grads(self) -> NDArray[np.float64]: ...
    def weight(self, k: int) -> NDArray[np.float64]: ...
    def bias(self, k: int) -> NDArray[np.float64]: ...
    def forward(
        self,
        X: NDArray[np.float64] | Csr64,
        n_threads: int = 0,
        dropout_seed: int | None = None,
        dropout_epoch: int = 0,
        first_row: int = 0,
    ) -> None: ...
    def backward(
        self,
        X: NDArray[np.float64] | Csr64,
        Y: NDArray[np.float64],
        sample_weight: NDArray[np.float64] | None = None,
        n_threads: int = 0,
        dropout_seed: int | None = None,
        dropout_epoch: int = 0,
        first_row: int = 0,
    ) -> float: ...
    def loss(
        self,
        X: NDArray[np.float64] | Csr64,
        Y: NDArray[np.float64],
        sample_weight: NDArray[np.float64] | None = None,
        n_threads: int = 0,
    ) -> float: ...
    def predict(
        self, X: NDArray[np.float64] | Csr64, n_threads: int = 0
    ) -> tuple[NDArray[np.float64], bool]: ...
    def cached_Z(self, k: int) -> NDArray[np.float64]: ...
    def cached_H(self, k: int) -> NDArray[np.float64]: ...
    def cached_delta(self, k: int) -> NDArray[np.float64]: ...
    def release_workspace(self) -> None: ...
    @property
    def dropout(self) -> list[float]: ...
    @dropout.setter
    def dropout(self, rates: list[float]) -> None: ...
    @property
    def has_dropout(self) -> bool: ...
    def has_mask(self, k: int) -> bool: ...
    def cached_mask(self, k: int) -> NDArray[np.float64]: ...

class OptimizerConfig:
    @overload
    def __init__(self) -> None: ...
    @overload
    def __init__(
        self,
        *,
        kind: str = ...,
        lr: float = ...,
        momentum: float = ...,
        beta1: float = ...,
        beta2: float = ...,
        epsilon: float = ...,
        weight_decay: float = ...,
        schedule: str = ...,
        power_t: float = ...,
        step_size: int = ...,
        gamma: float = ...,
        etas: tuple[float, float] = ...,
        step_sizes: tuple[float, float] = ...,
        history_size: int = ...,
        max_fun: int = ...,
        grad_tol: float = ...,
        loss_tol: float = ...,
    ) -> None: ...
    kind: str
    lr: float
    momentum: float
    beta1: float
    beta2: float
    epsilon: float
    weight_decay: float
    schedule: str
    power_t: float
    step_size: int
    gamma: float
    etas: tuple[float, float]
    step_sizes: tuple[float, float]
    history_size: int
    max_fun: int
    grad_tol: float
    loss_tol: float

lm_max_params: int

def lm_step(
    JtJ: NDArray[np.float64], Jte: NDArray[np.float64], mu: float
) -> NDArray[np.float64]: ...
def validate_config(config: OptimizerConfig) -> None: ...
def learning_rate(config: OptimizerConfig, epoch: int) -> float: ...

class EpochOptions:
    @overload
    def __init__(self) -> None: ...
    @overload
    def __init__(
        self,
        *,
        batch_size: int = ...,
        shuffle: bool = ...,
        drop_last: bool = ...,
        seed: int = ...,
        epoch: int = ...,
        n_threads: int = ...,
        global_rows: int = ...,
        row_offset: int = ...,
    ) -> None: ...
    batch_size: int
    shuffle: bool
    drop_last: bool
    seed: int
    epoch: int
    n_threads: int
    global_rows: int
    row_offset: int

class EpochResult:
    @property
    def status(self) -> str: ...
    @property
    def loss(self) -> float: ...
    @property
    def lr(self) -> float: ...
    @property
    def batches(self) -> int: ...
    @property
    def samples(self) -> int: ...

class Optimizer32:
    def __init__(self, config: OptimizerConfig, n_params: int) -> None: ...
    @property
    def config(self) -> OptimizerConfig: ...
    @config.setter
    def config(self, config: OptimizerConfig, /) -> None: ...
    @property
    def steps(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    def step(self, net: Network32, lr: float) -> None: ...
    def reset(self) -> None: ...
    def state(self) -> tuple[NDArray[np.float32], NDArray[np.float32], int]: ...
    def set_state(self, m: ArrayLike, s: ArrayLike, steps: int) -> None: ...

def train_epoch32(
    net: Network32,
    optimizer: Optimizer32,
    X: NDArray[np.float32] | Csr32,
    Y: NDArray[np.float32],
    sample_weight: NDArray[np.float32] | None,
    options: EpochOptions,
    reduce: Callable[[NDArray[np.float32], NDArray[np.float64]], object] | None = None,
) -> EpochResult: ...
def train_epochs32(
    net: Network32,
    optimizer: Optimizer32,
    X: NDArray[np.float32],
    Y: NDArray[np.float32],
    sample_weight: NDArray[np.float32] | None,
    options: EpochOptions,
    epochs: int,
    tol: float | None,
    loss: list[float],
    lr: list[float],
    seconds: list[float],
) -> str: ...
def fullbatch_epoch32(
    net: Network32,
    optimizer: Optimizer32,
    X: NDArray[np.float32] | Csr32,
    Y: NDArray[np.float32],
    sample_weight: NDArray[np.float32] | None,
    options: EpochOptions,
) -> EpochResult: ...
def lbfgs_run32(
    net: Network32,
    X: NDArray[np.float32] | Csr32,
    Y: NDArray[np.float32],
    sample_weight: NDArray[np.float32] | None,
    *,
    history_size: int = ...,
    max_iter: int = ...,
    max_fun: int = ...,
    max_linesearch: int = ...,
    grad_tol: float = ...,
    loss_tol: float = ...,
    l2: float = ...,
    n_threads: int = ...,
) -> dict[str, Any]: ...
def lm_normal_equations32(
    net: Network32,
    X: NDArray[np.float32] | Csr32,
    Y: NDArray[np.float32],
    sample_weight: NDArray[np.float32] | None,
    n_threads: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]: ...

class Optimizer64:
    def __init__(self, config: OptimizerConfig, n_params: int) -> None: ...
    @property
    def config(self) -> OptimizerConfig: ...
    @config.setter
    def config(self, config: OptimizerConfig, /) -> None: ...
    @property
    def steps(self) -> int: ...
    @property
    def n_params(self) -> int: ...
    def step(self, net: Network64, lr: float) -> None: ...
    def reset(self) -> None: ...
    def state(self) -> tuple[NDArray[np.float64], NDArray[np.float64], int]: ...
    def set_state(self, m: ArrayLike, s: ArrayLike, steps: int) -> None: ...

def train_epoch64(
    net: Network64,
    optimizer: Optimizer64,
    X: NDArray[np.float64] | Csr64,
    Y: NDArray[np.float64],
    sample_weight: NDArray[np.float64] | None,
    options: EpochOptions,
    reduce: Callable[[NDArray[np.float64], NDArray[np.float64]], object] | None = None,
) -> EpochResult: ...
def train_epochs64(
    net: Network64,
    optimizer: Optimizer64,
    X: NDArray[np.float64],
    Y: NDArray[np.float64],
    sample_weight: NDArray[np.float64] | None,
    options: EpochOptions,
    epochs: int,
    tol: float | None,
    loss: list[float],
    lr: list[float],
    seconds: list[float],
) -> str: ...
def fullbatch_epoch64(
    net: Network64,
    optimizer: Optimizer64,
    X: NDArray[np.float64] | Csr64,
    Y: NDArray[np.float64],
    sample_weight: NDArray[np.float64] | None,
    options: EpochOptions,
) -> EpochResult: ...
def lbfgs_run64(
    net: Network64,
    X: NDArray[np.float64] | Csr64,
    Y: NDArray[np.float64],
    sample_weight: NDArray[np.float64] | None,
    *,
    history_size: int = ...,
    max_iter: int = ...,
    max_fun: int = ...,
    max_linesearch: int = ...,
    grad_tol: float = ...,
    loss_tol: float = ...,
    l2: float = ...,
    n_threads: int = ...,
) -> dict[str, Any]: ...
def lm_normal_equations64(
    net: Network64,
    X: NDArray[np.float64] | Csr64,
    Y: NDArray[np.float64],
    sample_weight: NDArray[np.float64] | None,
    n_threads: int = 0,
) -> tuple[NDArray[np.float64], NDArray[np.float64], float]: ...
