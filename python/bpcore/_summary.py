"""The table of a network's layers: ``Network.summary()`` and the notebook view ``_repr_html_``."""

from __future__ import annotations

import html
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class LayerRow:
    """One layer l of the table: n_{l-1} → n_l, f^[l], the shapes of W^[l] and b^[l], θ counts,
    and the dropout rate p_l of H^[l] in training (0: none; the output layer has none)."""

    l: int
    n_in: int
    n_out: int
    activation: str
    W_shape: tuple[int, int]
    b_shape: tuple[int]
    n_weights: int
    n_biases: int
    n_alpha: int
    dropout: float = 0.0

    @property
    def n_params(self) -> int:
        return self.n_weights + self.n_biases + self.n_alpha


@dataclass(frozen=True)
class Summary:
    """What :meth:`bpcore.Network.summary` returns: print it for the text table; a notebook shows
    it as an HTML table. ``rows`` has one :class:`LayerRow` per layer l = 1 … L."""

    title: str
    loss: str
    dtype: str
    rows: list[LayerRow] = field(default_factory=list)

    @property
    def total_params(self) -> int:
        return sum(r.n_params for r in self.rows)

    @property
    def total_weights(self) -> int:
        return sum(r.n_weights for r in self.rows)

    @property
    def total_biases(self) -> int:
        return sum(r.n_biases for r in self.rows)

    def _table(self) -> tuple[list[str], list[list[str]], list[str]]:
        head = ["layer", "n_in → n_out", "f", "W^[l]", "b^[l]", "parameters"]
        body = [
            [
                f"{r.l}",
                f"{r.n_in} → {r.n_out}",
                r.activation + (f", dropout {r.dropout:g}" if r.dropout else ""),
                f"{r.W_shape[0]}×{r.W_shape[1]}",
                f"{r.b_shape[0]}",
                f"{r.n_params:,}" + (" (α: 1)" if r.n_alpha else ""),
            ]
            for r in self.rows
        ]
        foot = [
            "total",
            "",
            "",
            f"{self.total_weights:,} weights",
            f"{self.total_biases:,} biases",
            f"{self.total_params:,}",
        ]
        return head, body, foot

    def __str__(self) -> str:
        head, body, foot = self._table()
        rows = [head, *body, foot]
        widths = [max(len(r[i]) for r in rows) for i in range(len(head))]

        def line(cells: list[str]) -> str:
            return "  ".join(c.ljust(w) for c, w in zip(cells, widths)).rstrip()

        rule = "-" * len(line(head))
        return "\n".join(
            [
                self.title,
                f"loss {self.loss}, dtype {self.dtype}",
                line(head),
                rule,
                *(line(r) for r in body),
                rule,
                line(foot),
            ]
        )

    __repr__ = __str__

    def _repr_html_(self) -> str:
        return self.to_html()

    def to_html(self) -> str:
        """The table as HTML (what a notebook shows)."""
        head, body, foot = self._table()
        esc = html.escape

        def tr(cells: list[str], tag: str = "td") -> str:
            return "<tr>" + "".join(f"<{tag}>{esc(c)}</{tag}>" for c in cells) + "</tr>"

        return (
            f"<div><b>{esc(self.title)}</b> &middot; loss {esc(self.loss)}, "
            f"dtype {esc(self.dtype)}"
            '<table class="bpcore-summary">'
            f"<thead>{tr(head, 'th')}</thead>"
            f"<tbody>{''.join(tr(r) for r in body)}</tbody>"
            f"<tfoot>{tr(foot, 'th')}</tfoot>"
            "</table></div>"
        )


def summarize(net: Any, title: str | None = None) -> Summary:
    """The :class:`Summary` of a bpcore Network (read through its public attributes only)."""
    sizes = list(net.sizes)
    acts = list(net.activations)
    rates = [*getattr(net, "dropout", []), 0.0]  # the output layer has none
    rows = []
    for l in range(1, len(sizes)):
        n_in, n_out = sizes[l - 1], sizes[l]
        rows.append(
            LayerRow(
                l=l,
                n_in=n_in,
                n_out=n_out,
                activation=acts[l - 1],
                W_shape=(n_in, n_out),
                b_shape=(n_out,),
                n_weights=n_in * n_out,
                n_biases=n_out,
                n_alpha=1 if acts[l - 1] == "prelu" else 0,
                dropout=float(rates[l - 1]) if l - 1 < len(rates) else 0.0,
            )
        )
    name = "-".join(str(s) for s in sizes)
    return Summary(
        title=title or f"Network {name} ({len(rows)} layers with weights)",
        loss=str(net.loss_name),
        dtype=str(net.dtype.name),
        rows=rows,
    )
