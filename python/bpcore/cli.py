"""The ``bpcore`` command: train, predict, evaluate, export, plot.

    bpcore train [CONFIG.toml] [--out DIR] [--set KEY=VALUE ...] [--quiet] [--verbose]
                 [--threads N] [--distributed] [--resume CHECKPOINT]
    bpcore predict MODEL DATA [--out FILE]
    bpcore evaluate MODEL DATA [--json]
    bpcore export MODEL --format onnx|c --out FILE [--name NAME] [--opset N]
    bpcore plot activations [--out FILE] [--names NAME ...] [--no-derivative] [--alpha A]
    bpcore plot history HISTORY [--out FILE]
    bpcore plot regions MODEL DATA [--out FILE]
    bpcore --version

Without a configuration, ``bpcore train`` runs the notes' example: the 4-5-3 sigmoid network on
standardised Iris with J = ½ Σ e² on one-hot targets and online SGD (α = 0.5, 100 epochs, seed 0).
Errors end the command with exit status 1 (2 for bad command-line arguments) and one line on
stderr that says what to fix; ``BPCORE_DEBUG=1`` shows the traceback instead. Ctrl-C ends it with
exit status 130; ``bpcore train`` then keeps the files of the epochs finished so far, writes a
checkpoint and prints the ``--resume`` command that continues the run.

``mpirun -n N bpcore train CONFIG --distributed`` trains data-parallel over the N ranks of the MPI
job (mpi4py: ``pip install ".[mpi]"`` from a checkout); rank 0 prints and writes the files.
"""

from __future__ import annotations

import argparse
import csv
import io as _io
import json
import logging
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from ._names import HIDDEN_ACTIVATIONS

if TYPE_CHECKING:
    from mpi4py.MPI import Intracomm

    from .config import Config
    from .dataio import Table
    from .network import Network
    from .preprocessing import Preprocessing

__all__ = ["build_parser", "main"]

log = logging.getLogger("bpcore")


class CommandError(Exception):
    """A user error with a message meant for the terminal."""


class _Parser(argparse.ArgumentParser):
    """argparse that reports a usage error in one line (and exits with status 2)."""

    def error(self, message: str) -> None:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


# ---------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``bpcore`` command."""
    from ._version import __version__

    parser = _Parser(
        prog="bpcore",
        description="Train multilayer perceptrons with back-propagation on a C++ core, predict "
        "with saved models, and draw the notes' figures.",
        epilog="Run 'bpcore COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"bpcore {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    p = sub.add_parser(
        "train",
        help="train a network from a TOML configuration (default: the "
        "notes' 4-5-3 network on Iris)",
        description="Train a network. Without CONFIG: the notes' example, the "
        "4-5-3 sigmoid network on standardised Iris, J = ½ Σ e² on one-hot "
        "targets, online SGD with lr 0.5 for 100 epochs. Writes the model, the "
        "history, the loss curve and the configuration used into the output "
        "folder.",
    )
    p.add_argument(
        "config",
        nargs="?",
        metavar="CONFIG.toml",
        help="configuration file (sections [network], [training], [data], [output])",
    )
    p.add_argument(
        "--out",
        metavar="DIR",
        help="output folder (default: output.dir of the configuration, bpcore-out)",
    )
    p.add_argument(
        "--set",
        dest="overrides",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="override one configuration value, e.g. --set training.epochs=200 or "
        "--set network.hidden=[8,8] (TOML syntax; repeatable)",
    )
    # How training runs (threads, MPI ranks) is chosen here and handed to train_from_config;
    # the configuration file describes what is trained.
    p.add_argument(
        "--threads",
        type=int,
        metavar="N",
        help="threads over the batch "
        "(training.n_threads; default: the CPUs, shared among the ranks of a node)",
    )
    p.add_argument(
        "--distributed",
        action="store_true",
        help="data-parallel training over the "
        "ranks of an MPI job: run as 'mpirun -n N bpcore train CONFIG --distributed' "
        '(needs mpi4py: pip install ".[mpi]" in a checkout); the result equals one '
        "process's",
    )
    p.add_argument(
        "--resume",
        metavar="CHECKPOINT",
        help="continue the run of CONFIG from a checkpoint it wrote (output.checkpoint, "
        "written every output.checkpoint_every epochs and on Ctrl-C): weights, optimizer "
        "state, epoch count, history and data split, up to training.epochs in all",
    )
    p.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    p.add_argument("-v", "--verbose", action="store_true", help="log every epoch")
    p.set_defaults(handler=_cmd_train)

    p = sub.add_parser(
        "predict",
        help="predict with a saved model",
        description="Standardise DATA with the model's saved statistics, run the "
        "network and write one prediction (class label or value) per sample, "
        "followed by the network outputs Ŷ.",
    )
    p.add_argument("model", metavar="MODEL", help="model file written by bpcore (.safetensors)")
    p.add_argument(
        "data",
        metavar="DATA",
        help="a .csv, .npy or .npz file, or a built-in data "
        "set (iris, xor, moons, sine); a target column, if present, is ignored",
    )
    p.add_argument(
        "--out",
        metavar="FILE",
        help="write the predictions to FILE (.csv, or .npy "
        "for the predictions alone); default: print CSV",
    )
    p.set_defaults(handler=_cmd_predict)

    p = sub.add_parser(
        "evaluate",
        help="loss J and accuracy of a saved model on labelled data",
        description="Compute the model's loss J and its accuracy (classification) "
        "or RMSE (regression) on DATA, which must hold the targets.",
    )
    p.add_argument("model", metavar="MODEL", help="model file written by bpcore (.safetensors)")
    p.add_argument(
        "data",
        metavar="DATA",
        help="a .csv, .npy or .npz file with targets, or a built-in data set",
    )
    p.add_argument("--json", action="store_true", help="print the metrics as JSON")
    p.set_defaults(handler=_cmd_evaluate)

    p = sub.add_parser(
        "export",
        help="write a saved model as ONNX or as a C header",
        description="Write MODEL, with its standardisation, as an ONNX model "
        "(needs the onnx package) or as one dependency-free C99 header with "
        "NAME_predict and NAME_predict_batch.",
    )
    p.add_argument("model", metavar="MODEL", help="model file written by bpcore (.safetensors)")
    p.add_argument("--format", required=True, choices=["onnx", "c"], help="onnx or c")
    p.add_argument("--out", required=True, metavar="FILE", help="file to write (.onnx or .h)")
    p.add_argument(
        "--name",
        metavar="NAME",
        help="C: prefix of the functions and macros (default: model); ONNX: the graph's name",
    )
    p.add_argument(
        "--opset",
        type=int,
        metavar="N",
        help="ONNX opset (default: the lowest that has every operator the network needs)",
    )
    p.set_defaults(handler=_cmd_export)

    p = sub.add_parser(
        "plot",
        help="draw figures (activations, loss history, decision regions)",
        description="Draw a figure to a PNG file.",
    )
    psub = p.add_subparsers(dest="figure", metavar="FIGURE", parser_class=_Parser)
    psub.required = True
    names = list(HIDDEN_ACTIVATIONS)
    q = psub.add_parser(
        "activations",
        help="the notes' activation functions and derivatives",
        description=f"{', '.join(names)} on x in [-8, 8) with step 0.1, each "
        "with its derivative, computed by the core.",
    )
    q.add_argument(
        "--out",
        metavar="FILE",
        default="activations.png",
        help="image file (default: activations.png)",
    )
    q.add_argument(
        "--names",
        nargs="+",
        metavar="NAME",
        default=names,
        help=f"activations to draw (default: {' '.join(names)})",
    )
    q.add_argument("--no-derivative", action="store_true", help="draw f only")
    q.add_argument("--alpha", type=float, default=0.25, help="alpha of prelu (default 0.25)")
    q.set_defaults(handler=_cmd_plot_activations)
    q = psub.add_parser(
        "history",
        help="loss curves from a run's history file",
        description="Training and validation J per epoch from a history.json or "
        "history.csv written by 'bpcore train'.",
    )
    q.add_argument("history", metavar="HISTORY", help="history.json or history.csv")
    q.add_argument(
        "--out", metavar="FILE", default="loss.png", help="image file (default: loss.png)"
    )
    q.add_argument("--log", action="store_true", help="logarithmic J axis")
    q.set_defaults(handler=_cmd_plot_history)
    q = psub.add_parser(
        "regions",
        help="decision regions of a 2-input classifier",
        description="The class the model picks at every point of the plane, with "
        "the samples of DATA on top.",
    )
    q.add_argument("model", metavar="MODEL")
    q.add_argument("data", metavar="DATA")
    q.add_argument(
        "--out", metavar="FILE", default="regions.png", help="image file (default: regions.png)"
    )
    q.set_defaults(handler=_cmd_plot_regions)
    return parser


# ---------------------------------------------------------------------- commands
def _apply_overrides(cfg: Config, overrides: Sequence[str]) -> Config:
    from .config import Config, ConfigError, toml_reader

    if not overrides:
        return cfg
    data = cfg.to_dict()
    explicit = None if cfg.explicit is None else {k: set(v) for k, v in cfg.explicit.items()}
    toml = toml_reader()
    for item in overrides:
        key, sep, text = item.partition("=")
        section, dot, name = key.strip().partition(".")
        if not sep or not dot or not name:
            raise CommandError(
                f"--set expects SECTION.KEY=VALUE, e.g. training.epochs=200; got {item!r}"
            )
        try:
            value = toml.loads(f"v = {text.strip()}")["v"]
        except toml.TOMLDecodeError:
            value = text.strip()  # a bare word: a string
        if section not in data:
            raise ConfigError(
                f"--set {item}: unknown section {section!r}; allowed: {', '.join(data)}"
            )
        data[section][name] = value
        if explicit is not None:
            explicit[section].add(name)
    out = Config.from_dict(data)
    out.explicit = None if explicit is None else {k: frozenset(v) for k, v in explicit.items()}
    out.base_dir = cfg.base_dir
    return out


def _percent(m: dict[str, Any]) -> str:
    return f"{100 * m['accuracy']:.2f}% ({m['correct']}/{m['n']})"


def _cmd_train(args: argparse.Namespace) -> int:
    from .config import Config, load_config, train_from_config

    cfg = load_config(args.config) if args.config else Config.from_dict({})
    cfg = _apply_overrides(cfg, args.overrides)
    if args.threads is not None:
        cfg = _apply_overrides(cfg, [f"training.n_threads={args.threads}"])
    comm, rank, ranks = None, 0, ""
    if args.distributed:
        from .distributed import world

        comm = args.comm = world()
        rank = comm.Get_rank()
        n = comm.Get_size()
        ranks = f", {n} MPI rank{'s' if n != 1 else ''}"
    if rank == 0:

        def announce(line: str) -> None:
            print(f"bpcore: {line}{ranks if line.startswith('training') else ''}", flush=True)

    else:
        announce = None  # type: ignore[assignment]
    run = train_from_config(
        cfg,
        out=args.out,
        progress=not args.quiet,
        verbose=args.verbose,
        comm=comm,
        resume=args.resume,
        announce=announce,
    )
    hist = run.history
    interrupted = hist.stop_reason == "interrupted"
    if rank != 0:
        return 130 if interrupted else 0
    sizes = "-".join(str(s) for s in run.network.sizes)
    total = hist.epochs_before + hist.epochs
    print(f"network {sizes}: {total} epochs, stop reason {hist.stop_reason}")
    if hist.loss:
        print(
            f"mean J during epoch {total} = {hist.loss[-1]:.6g} (each batch's J before its "
            "update); below, the J of the trained network:"
        )
    for part, m in run.metrics.items():
        line = f"{part}: J = {m['loss']:.6g} on {m['n']} samples"
        if "accuracy" in m:
            line += f", accuracy {_percent(m)}"
        else:
            line += f", RMSE {m['rmse']:.6g}"
        print(line)
    if run.files:
        print("wrote " + ", ".join(str(p) for p in run.files.values()))
    if interrupted:
        command = ["bpcore", "train"]
        if args.config:
            command.append(_quote(args.config))
        command += [arg for o in args.overrides for arg in ("--set", _quote(o))]
        if args.out:
            command += ["--out", _quote(args.out)]
        if "checkpoint" in run.files:
            command += ["--resume", _quote(str(run.files["checkpoint"]))]
            print(
                f"bpcore: interrupted after epoch {total}; resume with: {' '.join(command)}",
                file=sys.stderr,
            )
        else:
            print(f"bpcore: interrupted after epoch {total}", file=sys.stderr)
        return 130
    return 0


def _quote(text: str) -> str:
    import shlex

    return shlex.quote(text)


def _load_model(path: str) -> Network:
    from .io import load

    if not Path(path).is_file():
        raise CommandError(f"model file {path!r} does not exist")
    return load(path)


def _model_data(net: Network, data: str, need_target: bool) -> Table:
    from .dataio import load_for_model

    return load_for_model(
        data, getattr(net, "preprocessing", None), net.sizes[0], need_target=need_target
    )


def _passthrough(net: Network) -> Preprocessing:
    from .preprocessing import Preprocessing

    prep = getattr(net, "preprocessing", None)
    return prep if prep is not None else Preprocessing(task="regression")


def _cmd_predict(args: argparse.Namespace) -> int:
    net = _load_model(args.model)
    table = _model_data(net, args.data, need_target=False)
    prep = _passthrough(net)
    raw = net.predict(prep.transform(table.X))  # the one forward pass
    predictions = prep.decode(raw)
    Y_hat = np.asarray(raw, dtype=np.float64)  # the outputs column (classification only)
    if prep.task == "classification":
        out_names = [f"yhat_{c}" for c in prep.classes] if prep.one_hot else ["yhat"]
        pred_cols = [predictions]
        pred_names = ["prediction"]
    else:
        pred = np.asarray(predictions).reshape(len(table.X), -1)
        pred_cols = [pred[:, j] for j in range(pred.shape[1])]
        pred_names = (
            ["prediction"]
            if pred.shape[1] == 1
            else [f"prediction_{j + 1}" for j in range(pred.shape[1])]
        )
        out_names = []
    if args.out and Path(args.out).suffix.lower() == ".npy":
        from ._atomic import atomic_write

        with atomic_write(args.out, "wb") as f:
            np.save(f, np.asarray(predictions), allow_pickle=False)
        print(f"wrote {len(table.X)} predictions to {args.out}")
        return 0
    if args.out and Path(args.out).suffix.lower() != ".csv":
        raise CommandError(f"--out must end in .csv or .npy; got {args.out!r}")
    buf = _io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(pred_names + out_names)
    for i in range(len(table.X)):
        row = [_cell(c[i]) for c in pred_cols]
        if out_names:
            row += [repr(float(v)) for v in Y_hat[i]]
        w.writerow(row)
    if args.out:
        from ._atomic import write_text

        write_text(args.out, buf.getvalue())
        print(f"wrote {len(table.X)} predictions to {args.out}")
    else:
        sys.stdout.write(buf.getvalue())
    return 0


def _cell(value: object) -> str:
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)


def _cmd_evaluate(args: argparse.Namespace) -> int:
    net = _load_model(args.model)
    table = _model_data(net, args.data, need_target=True)
    prep = _passthrough(net)
    m = prep.evaluate(net, table.X, table.y)
    m["loss_name"] = net.loss_name
    if args.json:
        print(json.dumps(m))
        return 0
    print(f"J = {m['loss']:.6g} (loss {net.loss_name}, {m['n']} samples)")
    if "accuracy" in m:
        print(f"accuracy = {_percent(m)}")
    else:
        print(f"RMSE = {m['rmse']:.6g}")
    return 0


def _cmd_export(args: argparse.Namespace) -> int:
    from .export import export

    print(export(_load_model(args.model), args.format, args.out, name=args.name, opset=args.opset))
    return 0


def _cmd_plot_activations(args: argparse.Namespace) -> int:
    from . import plot

    fig = plot.plot_activations(
        args.names, out=args.out, derivative=not args.no_derivative, alpha=args.alpha
    )
    plot.close(fig)
    print(f"wrote {args.out}")
    return 0


def _read_history(path: str) -> dict[str, Any]:
    p = Path(path)
    if not p.is_file():
        raise CommandError(f"history file {path!r} does not exist")
    if p.suffix.lower() == ".json":
        try:
            data = json.loads(p.read_text(encoding="utf-8"))
        except ValueError as exc:
            raise CommandError(f"{path}: not valid JSON: {exc}") from None
        if not isinstance(data, dict) or "loss" not in data:
            raise CommandError(f"{path}: expected a JSON object with a 'loss' list")
        return data
    if p.suffix.lower() == ".csv":
        with open(p, newline="", encoding="utf-8") as f:
            rows = list(csv.DictReader(f))
        if not rows or "loss" not in rows[0]:
            raise CommandError(f"{path}: expected a CSV with a 'loss' column")
        try:
            loss = [float(r["loss"]) for r in rows]
            val = [float(r["val_loss"]) for r in rows if r.get("val_loss")]
            first = int(rows[0].get("epoch") or 1) - 1
        except ValueError as exc:
            raise CommandError(f"{path}: {exc}") from None
        return {"loss": loss, "val_loss": val, "epochs_before": first}
    raise CommandError(f"HISTORY must be a .json or .csv file; got {path!r}")


def _cmd_plot_history(args: argparse.Namespace) -> int:
    from . import plot

    fig = plot.plot_history(_read_history(args.history), out=args.out, log_scale=args.log)
    plot.close(fig)
    print(f"wrote {args.out}")
    return 0


def _cmd_plot_regions(args: argparse.Namespace) -> int:
    from . import plot

    net = _load_model(args.model)
    table = _model_data(net, args.data, need_target=False)
    fig = plot.plot_decision_regions(net, table.X, table.y, out=args.out)
    plot.close(fig)
    print(f"wrote {args.out}")
    return 0


def _abort_unless_agreed(comm: Intracomm, exc: BaseException) -> None:
    """In an MPI job, an error the other ranks do not know of would leave them waiting for this
    rank forever: end the whole job instead (MPI_Abort). Errors the ranks agreed on (raised on all
    of them, see bpcore.distributed) end each rank normally."""
    from .distributed import DistributedError

    if not isinstance(exc, DistributedError) and not getattr(exc, "bpcore_agreed", False):
        sys.stderr.flush()
        comm.Abort(1)


# ---------------------------------------------------------------------- entry point
def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    if (
        isinstance(
            exc,
            (
                CommandError,
                ValueError,
                FileNotFoundError,
                NotADirectoryError,
                IsADirectoryError,
                PermissionError,
            ),
        )
        or not text
    ):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text}"


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``bpcore`` command with ``argv`` (default ``sys.argv[1:]``); returns the exit status."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error already reported
        return int(exc.code) if isinstance(exc.code, int) else (0 if exc.code is None else 2)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("bpcore: %(message)s"))
    verbose = getattr(args, "verbose", False)
    previous_level = log.level
    log.addHandler(handler)
    log.setLevel(logging.INFO if verbose else logging.WARNING)
    try:
        return int(args.handler(args))
    except KeyboardInterrupt:
        print("bpcore: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # every failure becomes one line; BPCORE_DEBUG shows the traceback
        comm = getattr(args, "comm", None)
        if os.environ.get("BPCORE_DEBUG"):
            if comm is not None:
                _abort_unless_agreed(comm, exc)
            raise
        from .distributed import DistributedError

        if not isinstance(exc, DistributedError):  # that rank prints the failure itself
            where = f" (rank {comm.Get_rank()})" if comm is not None else ""
            print(f"bpcore {args.command}{where}: error: {_one_line(exc)}", file=sys.stderr)
        if comm is not None:
            _abort_unless_agreed(comm, exc)
        return 1
    finally:
        log.removeHandler(handler)
        log.setLevel(previous_level)


if __name__ == "__main__":
    sys.exit(main())
