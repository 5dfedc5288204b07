"""The notes' three activation plots: relu, sigmoid and tanh on x in [−8, 8) with step 0.1.

The notes draw them with ``torch.arange(-8.0, 8.0, 0.1)`` and ``d2l.plot``; here the values come
from bpcore's core (``bpcore.activate``, ``bpcore.derivative``), with the derivative f′ drawn
beside each function. The script also prints the derivatives at 0 and at the ends of the range:
sigmoid′ and tanh′ nearly vanish for large |x| (the "vanishing gradient" the notes mention),
relu′ stays 1 for every x > 0. A second figure, ``<out>_all.png``, shows every activation a hidden
layer can use (``bpcore.HIDDEN_ACTIVATIONS``).

Run: ``python examples/activations.py [out.png]`` (default ``activations.png``). Needs matplotlib.
"""

from __future__ import annotations

import sys
from pathlib import Path

import bpcore
import numpy as np

NAMES = ("relu", "sigmoid", "tanh")


def main(argv: list[str]) -> int:
    out = argv[1] if len(argv) > 1 else "activations.png"
    x = np.arange(-8.0, 8.0, 0.1)  # the notes' grid: 160 points, −8 … 7.9

    print(f"x in [{x[0]:g}, {x[-1]:.1f}], {x.size} points")
    at = np.array([-8.0, 0.0, 7.9])
    for name in NAMES:
        d = bpcore.derivative(name, at)
        print(f"  {name:<8} f′(-8) = {d[0]:.3g}   f′(0) = {d[1]:.3g}   f′(7.9) = {d[2]:.3g}")

    fig = bpcore.plot.plot_activations(names=NAMES, x=x, out=out, derivative=True)
    print(f"saved {out}: {', '.join(NAMES)}, each with its derivative f′")
    del fig

    path = Path(out)
    out_all = path.with_name(f"{path.stem}_all{path.suffix or '.png'}")
    bpcore.plot.plot_activations(names=bpcore.HIDDEN_ACTIVATIONS, x=x, out=out_all)
    print(f"saved {out_all}: every hidden activation, {', '.join(bpcore.HIDDEN_ACTIVATIONS)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
