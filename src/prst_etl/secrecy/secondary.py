"""Secondary suppression: the public entry point."""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import polars as pl

from .engine import SECONDARY, SECRET, Engine
from .problem import Problem, build_problem, cell_costs, check_additivity
from .structure import Hierarchy, HierarchyError

SHORT = "secret-court"
"""Internal label (``on_unprotected="ignore"``): a primary or kept cell left unprotected."""
LABELS = np.array([None, "secret", "secret-secondaire", "non-publie", SHORT], dtype=object)


class SecrecyError(RuntimeError):
    """Some hidden cells could not be protected."""


@dataclass(frozen=True)
class SuppressionResult:
    """What :func:`suppress_cells` returns: the statuses and what the engine could not do, typed
    (nothing to parse out of warning texts)."""

    status: pl.Series
    """Aligned with the input cells: null, ``secret``, ``secret-secondaire``, ``non-publie``."""
    short_primary: int = 0
    """Primary or kept cells left short of their protection interval."""
    short_secondary: int = 0
    """Secondary cells left short of their interval (only asked with ``protect_secondary=True``)."""
    not_additive: pl.DataFrame = field(default_factory=pl.DataFrame)
    """Cells that differ from the sum of the leaf cells below them (``check="report"``)."""
    stats: dict = field(default_factory=dict)
    unprotected: pl.Series | None = None
    """Aligned with the cells: the primary or kept cells left short."""


def secondary_suppression(
    cells: pl.DataFrame,
    dims: list[str],
    hierarchies: list[Hierarchy],
    primary: pl.Series,
    *,
    value: str = "value",
    protection: float = 0.10,
    keep: pl.Series | None = None,
    cost: str | pl.Series | Callable[[np.ndarray], np.ndarray] = "value",
    protect_secondary: bool | str = True,
    min_protection: float = 0.0,
    zero_protection: float | pl.Series = 0.0,
    unpublished: pl.Series | None = None,
    never_hide: pl.Series | None = None,
    check: str = "raise",
    on_unprotected: str = "raise",
) -> pl.Series:
    """Hide further cells so that no hidden cell can be recovered, or narrowed
    within ``±max(protection × value, min_protection)``, by an attacker who knows
    the published cells, every equation of every hierarchy and that values are
    non-negative.

    Returns a String Series ``status`` aligned with ``cells``: null (published),
    ``"secret"`` (primary or kept), ``"secret-secondaire"``, and ``"non-publie"``
    for the cells flagged ``unpublished``. Deterministic: the result does not
    depend on the row order.

    - ``keep``: cells to keep hidden (the pattern of a previous publication);
      hidden and protected like primary cells.
    - ``cost``: what to minimise when choosing cells to hide: ``"value"``,
      ``"log"``, ``"count"``, ``"sqrt"``, a Series of costs or a callable.
    - ``protect_secondary``: True — secondary cells get the same protection as
      primary ones; ``"exact"`` — they only must not be exactly recoverable;
      False — no requirement on them.
    - ``zero_protection``: the upper bound a hidden zero-valued primary cell must keep (a
      zero of a small population reveals that none of its units had the event; 0: zeros
      need nothing), or a Series of bounds aligned with the cells. One-sided: such a cell is
      shown to be able to reach that value, never below 0.
    - ``unpublished``: cells in the table only to carry the equations (e.g. the
      commune level of an export by département and zone): never published,
      free to use, nothing to protect.
    - ``never_hide``: cells that must stay published (e.g. regional totals).
    - ``check``: ``"raise"``, ``"warn"`` or ``"skip"`` when a cell differs from
      the sum of the leaf cells below it.
    - ``on_unprotected``: ``"raise"`` (:class:`SecrecyError`) or ``"warn"`` when
      some hidden cell cannot be protected.
    """
    status, _ = run_secondary(
        cells, dims, hierarchies, primary, value=value, protection=protection, keep=keep, cost=cost,
        protect_secondary=protect_secondary, min_protection=min_protection, zero_protection=zero_protection,
        unpublished=unpublished, never_hide=never_hide, check=check, on_unprotected=on_unprotected,
    )
    return status


def suppress_cells(
    cells: pl.DataFrame,
    dims: list[str],
    hierarchies: list[Hierarchy],
    primary: pl.Series,
    **options,
) -> SuppressionResult:
    """:func:`secondary_suppression` returning a :class:`SuppressionResult`: never warns nor raises
    for unprotected cells or non-additive data, reports them (``check`` is ``"report"`` or
    ``"skip"``)."""
    check = options.pop("check", "report")
    bad = pl.DataFrame()
    if check == "report":
        bad = check_additivity(build_problem(cells, dims, hierarchies, options.get("value", "value")))
    status, eng = run_secondary(cells, dims, hierarchies, primary, check="skip", on_unprotected="ignore", **options)
    u = eng.unprotected
    short = (status == SHORT).fill_null(False)
    return SuppressionResult(
        status=status.replace(SHORT, "secret"), short_primary=int(short.sum()), short_secondary=int((eng.status[u] == SECONDARY).sum()),
        not_additive=bad, stats=dict(eng.stats), unprotected=short,
    )


def _bool(s: pl.Series | None, n: int, name: str) -> np.ndarray:
    if s is None:
        return np.zeros(n, bool)
    if len(s) != n:
        raise ValueError(f"{name} has {len(s)} values for {n} cells")
    return s.cast(pl.Boolean).fill_null(False).to_numpy()


def run_secondary(
    cells: pl.DataFrame,
    dims: list[str],
    hierarchies: list[Hierarchy],
    primary: pl.Series,
    *,
    value: str = "value",
    protection: float = 0.10,
    keep: pl.Series | None = None,
    cost="value",
    protect_secondary: bool | str = True,
    min_protection: float = 0.0,
    zero_protection: float | pl.Series = 0.0,
    unpublished: pl.Series | None = None,
    never_hide: pl.Series | None = None,
    check: str = "raise",
    on_unprotected: str = "raise",
    record: bool = False,
    collapse: bool = True,
    **engine_opts,
) -> tuple[pl.Series, Engine]:
    """:func:`secondary_suppression` that also returns the engine: statistics,
    unprotected cells and, with ``record``, a witness vector per protected cell
    (positions in ``engine.p``, the sorted problem)."""
    if not 0 < protection <= 1:
        raise ValueError("protection must be in (0, 1]")
    if min_protection < 0:
        raise ValueError("min_protection must be >= 0")
    if check not in ("raise", "warn", "skip"):
        raise ValueError("check must be 'raise', 'warn' or 'skip'")
    if on_unprotected not in ("raise", "warn", "ignore"):
        raise ValueError("on_unprotected must be 'raise', 'warn' or 'ignore'")
    if isinstance(zero_protection, pl.Series):
        if len(zero_protection) != cells.height:
            raise ValueError(f"zero_protection has {len(zero_protection)} values for {cells.height} cells")
        zp = zero_protection.cast(pl.Float64).fill_null(0.0).to_numpy()
    else:
        zp = np.full(cells.height, float(zero_protection))
    if (zp < 0).any():
        raise ValueError("zero_protection must be >= 0")
    if protect_secondary not in (True, False, "exact"):
        raise ValueError("protect_secondary must be True, False or 'exact'")
    n = cells.height
    prim = _bool(primary, n, "primary")
    kp = _bool(keep, n, "keep")
    unp = _bool(unpublished, n, "unpublished")
    nev = _bool(never_hide, n, "never_hide")
    if (nev & (prim | kp)).any():
        raise ValueError("some cells are both hidden (primary or kept) and in never_hide")
    prob = build_problem(cells, dims, hierarchies, value)
    if check != "skip":
        bad = check_additivity(prob)
        if bad.height:
            msg = (
                f"{bad.height} cells differ from the sum of the leaf cells below them "
                f"(first: {bad.head(3).to_dicts()}); the equations would not hold. "
                "Check the hierarchies (each decomposition in its own Hierarchy) and the data."
            )
            if check == "raise":
                raise HierarchyError(msg)
            warnings.warn(msg, stacklevel=2)
    if unp.any() and collapse:
        classes = _twin_classes(prob, unp[prob.perm])
        if classes:
            return _run_collapsed(
                cells, dims, hierarchies, classes, prob, value=value, prim=prim, kp=kp, unp=unp, nev=nev,
                cost=cost, protection=protection, min_protection=min_protection, zp=zp,
                protect_secondary=protect_secondary, on_unprotected=on_unprotected, record=record, **engine_opts,
            )
    hidden = (prim | kp)[prob.perm] & ~unp[prob.perm]
    costs = cell_costs(cost, prob.x, prob.perm)
    eng = Engine(
        prob, hidden, costs, protection=protection, min_protection=min_protection,
        protect_secondary=protect_secondary, zero_protection=zp[prob.perm], record=record,
        unpublished=unp[prob.perm] if unp.any() else None,
        forbid=nev[prob.perm] if nev.any() else None, **engine_opts,
    )
    eng.run()
    _report(eng, prob, value, on_unprotected)
    out = np.zeros(n, np.int8)
    st = eng.status.copy()
    if on_unprotected == "ignore" and len(eng.unprotected):
        u = eng.unprotected
        st[u[st[u] == SECRET]] = 4
    out[prob.perm] = st
    return pl.Series("status", LABELS[out].tolist(), dtype=pl.String), eng


def _report(eng: Engine, prob: Problem, value: str, on_unprotected: str) -> None:
    """Primary or kept cells left unprotected: error (or warning); secondary
    ones: warning (they stay hidden and are not exactly recoverable: the cube
    or fan that hid them moves them)."""
    u = eng.unprotected
    if not len(u) or on_unprotected == "ignore":
        return
    required = u[eng.status[u] == SECRET]
    secondary = u[eng.status[u] == SECONDARY]
    for cells, what, strict in ((required, "primary or kept", True), (secondary, "secondary", False)):
        if not len(cells):
            continue
        f = prob.codes_frame(cells[:5]).with_columns(pl.Series(value, prob.x[cells[:5]]))
        msg = f"{len(cells)} {what} hidden cells could not be given their protection interval; first: {f.to_dicts()}"
        if strict and on_unprotected == "raise":
            raise SecrecyError(msg)
        warnings.warn(msg, stacklevel=3)


def _twin_classes(prob: Problem, unpub: np.ndarray) -> dict[int, dict[str, str]]:
    """Per dimension: leaf codes whose cells are all unpublished and that share
    all their parents, mapped to one class code per group."""
    out: dict[int, dict[str, str]] = {}
    for j, st in enumerate(prob.structs):
        if not st.hierarchical:
            continue
        pub = np.bincount(prob.idx[~unpub, j], minlength=st.n_codes)
        cand = np.flatnonzero((st.leaf_pos >= 0) & (pub == 0))
        if len(cand) < 2:
            continue
        groups: dict[tuple, list[int]] = {}
        for code, row in zip(cand, st.anc[st.leaf_pos[cand]]):
            sig = tuple(sorted(int(c) for c in row if c >= 0 and c != code))
            groups.setdefault(sig, []).append(int(code))
        mapping = {}
        for k, (_, members) in enumerate(sorted(groups.items())):
            if len(members) < 2:
                continue
            name = f"~classe-{k}:{st.codes[members[0]]}"
            for m in members:
                mapping[str(st.codes[m])] = name
        if mapping:
            out[j] = mapping
    return out


def _run_collapsed(cells, dims, hierarchies, classes, prob, *, value, prim, kp, unp, nev, cost, zp, **kw):
    """Merge unpublished twin leaves into one class leaf per group, protect the
    smaller table, map the statuses back. Safe: a vector of the merged table
    spreads over the members of a class in proportion to their values, which
    stays within every member's value, keeps every equation (the members have
    the same parents) and touches only unpublished cells."""
    names = {j: prob.dims[j] for j in classes}
    frame = cells.select([pl.col(d).cast(pl.String) for d in dims] + [pl.col(value).cast(pl.Float64)]).with_columns(
        pl.Series("_p", prim), pl.Series("_k", kp), pl.Series("_u", unp), pl.Series("_n", nev), pl.Series("_z", zp),
        pl.Series("_row", np.arange(cells.height)),
    )
    if isinstance(cost, pl.Series):
        frame = frame.with_columns(cost.cast(pl.Float64).alias("_c"))
    mapped = frame.with_columns([pl.col(names[j]).replace(classes[j]) for j in classes])
    aggs = [pl.col(value).sum(), pl.col("_p").any(), pl.col("_k").any(), pl.col("_u").all(), pl.col("_n").any(), pl.col("_z").max()]
    if isinstance(cost, pl.Series):
        aggs.append(pl.col("_c").sum())
    red = mapped.group_by(dims, maintain_order=True).agg(aggs)
    hs = []
    for h in hierarchies:
        e = h.edges.select(pl.col("parent").cast(pl.String), pl.col("child").cast(pl.String))
        j = dims.index(h.dimension)
        if j in classes:
            e = e.with_columns(pl.col("parent").replace(classes[j]), pl.col("child").replace(classes[j])).unique()
        hs.append(Hierarchy(h.dimension, e, h.name))
    status, eng = run_secondary(
        red, dims, hs, red["_p"], value=value, keep=red["_k"], unpublished=red["_u"], never_hide=red["_n"], zero_protection=red["_z"],
        cost=red["_c"] if isinstance(cost, pl.Series) else cost, check="skip", collapse=False, **kw,
    )
    back = mapped.select(*dims, "_row", "_u").join(
        red.select(dims).with_columns(status.alias("_s")), on=dims, how="left"
    ).sort("_row")
    out = back.select(
        pl.when(pl.col("_u")).then(pl.lit("non-publie")).otherwise(pl.col("_s")).alias("status")
    ).to_series()
    return out, eng
