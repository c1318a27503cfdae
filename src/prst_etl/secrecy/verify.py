"""Independent checks of a suppression pattern, for tests and small tables.

:func:`equations` writes every equation ``parent = Σ children`` of every
hierarchy, for every combination of the other codes, straight from the edges
(not from the engine's leaf sets). :func:`attacker_ranges` solves, for each
hidden cell, the attacker's two linear programs (min and max of the cell given
the published cells, the equations and non-negativity) with HiGHS through
scipy, imported lazily: an LP solver is the right tool for an exact audit, and
the engine itself does not need it.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from .structure import Hierarchy


def equations(cells: pl.DataFrame, dims: list[str], hierarchies: list[Hierarchy]) -> tuple[np.ndarray, np.ndarray, np.ndarray, int]:
    """COO triplets (row, col, coef) of ``x_parent − Σ x_child = 0`` over the rows
    of ``cells``. An equation is written when its parent cell and at least one
    child cell are in the table; absent children are zeros. One equation per
    (hierarchy, parent, other codes)."""
    frame = cells.select([pl.col(d).cast(pl.String) for d in dims]).with_row_index("_i")
    rows, cols, coefs = [], [], []
    n_eq = 0
    for h in hierarchies:
        d = h.dimension
        others = [o for o in dims if o != d]
        e = h.edges.select(pl.col("parent").cast(pl.String), pl.col("child").cast(pl.String)).unique()
        kids = e.join(frame, left_on="child", right_on=d).rename({"_i": "_c"})
        par = e.select("parent").unique().join(frame, left_on="parent", right_on=d).rename({"_i": "_p"})
        on = ["parent", *others]
        both = kids.join(par, on=on)
        if not both.height:
            continue
        eq = both.select(on).unique(maintain_order=True).sort(on).with_row_index("_e")
        both = both.join(eq, on=on)
        pe = eq.join(par, on=on)
        rows += [pe["_e"].to_numpy() + n_eq, both["_e"].to_numpy() + n_eq]
        cols += [pe["_p"].to_numpy(), both["_c"].to_numpy()]
        coefs += [np.ones(pe.height), -np.ones(both.height)]
        n_eq += eq.height
    if not rows:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0), 0
    return np.concatenate(rows).astype(np.int64), np.concatenate(cols).astype(np.int64), np.concatenate(coefs), n_eq


def check_vector(
    cells: pl.DataFrame, dims: list[str], hierarchies: list[Hierarchy], hidden: np.ndarray,
    positions: np.ndarray, v: np.ndarray, *, value: str = "value", exempt: int | None = None,
    tol: float = 1e-7, eqs=None,
) -> str | None:
    """Why ``v`` (entries on the rows ``positions`` of ``cells``) is not a valid
    protection vector — not in the null space of the equations, touching a
    published cell, or larger than a cell's value (``exempt`` row excepted) —
    or None when it is. Then ``x ± v`` is a table the attacker cannot rule out."""
    r, c, k, m = eqs if eqs is not None else equations(cells, dims, hierarchies)
    full = np.zeros(cells.height)
    np.add.at(full, positions, v)
    scale = max(1.0, float(np.abs(v).max(initial=0.0)))
    if (np.abs(full[~hidden]) > tol * scale).any():
        return "touches published cells"
    if m:
        res = np.zeros(m)
        np.add.at(res, r, k * full[c])
        if np.abs(res).max() > tol * scale:
            return f"violates equations (max residual {np.abs(res).max():g})"
    x = cells[value].cast(pl.Float64).to_numpy()
    over = np.abs(full) > x + tol * scale
    if exempt is not None:
        over[exempt] = False
    if over.any():
        return f"exceeds the values of rows {np.flatnonzero(over)[:5].tolist()}"
    return None


def attacker_ranges(
    cells: pl.DataFrame,
    dims: list[str],
    hierarchies: list[Hierarchy],
    status: pl.Series,
    *,
    value: str = "value",
    targets: np.ndarray | None = None,
) -> pl.DataFrame:
    """Lowest and highest value an attacker can infer for each hidden cell
    (status not null; ``"non-publie"`` cells are unknowns too) from the
    published cells, all the equations and non-negativity."""
    from scipy.optimize import linprog
    from scipy.sparse import csr_matrix

    x = cells[value].cast(pl.Float64).to_numpy()
    hidden = status.is_not_null().to_numpy()
    r, c, k, m = equations(cells, dims, hierarchies)
    # Published cells are constants: keep the hidden cells as variables.
    var = np.full(cells.height, -1)
    hid = np.flatnonzero(hidden)
    var[hid] = np.arange(len(hid))
    isvar = var[c] >= 0
    rhs = np.zeros(m)
    np.add.at(rhs, r[~isvar], -k[~isvar] * x[c[~isvar]])
    used = np.unique(r[isvar])
    row_of = np.full(m, -1)
    row_of[used] = np.arange(len(used))
    A = csr_matrix((k[isvar], (row_of[r[isvar]], var[c[isvar]])), shape=(len(used), len(hid)))
    b = rhs[used]
    # equations with no hidden cell must hold already (they do for additive data)
    if targets is None:
        targets = hid
    lo, hi = np.full(len(targets), np.nan), np.full(len(targets), np.nan)
    for i, s in enumerate(targets):
        obj = np.zeros(len(hid))
        obj[var[s]] = 1.0
        for sign, out in ((1.0, lo), (-1.0, hi)):
            res = linprog(sign * obj, A_eq=A if len(used) else None, b_eq=b if len(used) else None,
                          bounds=(0, None), method="highs")
            if res.status == 3:  # unbounded
                out[i] = -np.inf * sign
            elif res.status != 0:
                raise RuntimeError(f"attacker LP failed for row {s}: {res.message}")
            else:
                out[i] = sign * res.fun
    return cells.select(dims)[targets.tolist()].with_columns(
        pl.Series("value", x[targets]), pl.Series("status", status.to_numpy()[targets]),
        pl.Series("low", lo), pl.Series("high", hi), pl.Series("row", targets),
    )
