"""Tables as integer cell keys: codes per dimension, lookups, additivity check, costs."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import polars as pl

from .structure import DimStructure, Hierarchy, build_dimension


# ---------------------------------------------------------------------------
# problem: cells as integer keys


@dataclass(eq=False)
class Problem:
    dims: list[str]
    structs: list[DimStructure]
    idx: np.ndarray
    """(N, D) code indices, cells sorted by key."""
    key: np.ndarray
    strides: np.ndarray
    x: np.ndarray
    perm: np.ndarray
    """Sorted position → input row."""
    _dense: np.ndarray | None = field(default=None, repr=False)

    @property
    def n(self) -> int:
        return len(self.key)

    def lookup(self, keys: np.ndarray) -> np.ndarray:
        """Cell position of each key, −1 when absent (key −1 → −1)."""
        keys = np.asarray(keys, dtype=np.int64)
        if self._dense is not None:
            # the table ends with a −1 sentinel: index −1 lands on it
            return self._dense[keys]
        pos = np.searchsorted(self.key, keys)
        pos = np.minimum(pos, self.n - 1)
        hit = (self.key[pos] == keys) & (keys >= 0)
        return np.where(hit, pos, -1)

    def codes_frame(self, positions: np.ndarray) -> pl.DataFrame:
        return pl.DataFrame({d: st.codes[self.idx[positions, j]] for j, (d, st) in enumerate(zip(self.dims, self.structs))})


def build_problem(
    cells: pl.DataFrame,
    dims: list[str],
    hierarchies: list[Hierarchy],
    value: str,
) -> Problem:
    if not dims:
        raise ValueError("dims must name at least one dimension column")
    missing = [c for c in [*dims, value] if c not in cells.columns]
    if missing:
        raise ValueError(f"cells lack columns {missing}; columns: {cells.columns}")
    unknown = sorted({h.dimension for h in hierarchies} - set(dims))
    if unknown:
        raise ValueError(f"hierarchies on dimensions not in dims: {unknown}; dims: {dims}")
    frame = cells.select([pl.col(d).cast(pl.String) for d in dims] + [pl.col(value).cast(pl.Float64)])
    nulls = [c for c in frame.columns if frame[c].null_count()]
    if nulls:
        raise ValueError(f"null codes or values in columns {nulls}")
    x = frame[value].to_numpy().astype(np.float64)
    if not np.all(np.isfinite(x)):
        raise ValueError(f"non-finite values in column {value!r}")
    if (x < 0).any():
        raise ValueError(f"negative values in column {value!r}: the engine assumes non-negative counts")
    # Codes and sizes per dimension.
    structs, idx_cols = [], []
    for d in dims:
        codes = np.asarray(frame[d].unique().sort().to_list(), dtype=str)
        ids = frame.select((pl.col(d).rank("dense") - 1).cast(pl.Int64)).to_series().to_numpy()
        hs = [h for h in hierarchies if h.dimension == d]
        structs.append(build_dimension(d, codes, hs))
        idx_cols.append(ids)
    ncodes = np.array([len(s.codes) for s in structs], dtype=np.int64)
    if np.sum(np.log2(np.maximum(ncodes, 1))) > 62:
        raise ValueError("too many code combinations for 64-bit cell keys")
    strides = np.ones(len(dims), np.int64)
    for j in range(len(dims) - 2, -1, -1):
        strides[j] = strides[j + 1] * ncodes[j + 1]
    idx = np.stack(idx_cols, axis=1)
    key = idx @ strides
    perm = np.argsort(key, kind="stable")
    key = key[perm]
    if len(key) > 1 and np.any(key[1:] == key[:-1]):
        dup = np.flatnonzero(key[1:] == key[:-1])[:3]
        rows = frame[perm[dup]].select(dims).to_dicts()
        raise ValueError(f"duplicate cells (same codes on every dimension): {rows}")
    prob = Problem(dims=list(dims), structs=structs, idx=idx[perm].astype(np.int32), key=key, strides=strides, x=x[perm], perm=perm)
    space = int(np.prod(ncodes))
    if space <= max(1 << 24, 8 * len(key)):
        dense = np.full(space + 1, -1, np.int64 if len(key) >= 2**31 else np.int32)
        dense[key] = np.arange(len(key))
        prob._dense = dense
    return prob


def leaf_sums(prob: Problem, j: int, x: np.ndarray, *, chunk: int = 1 << 20) -> tuple[np.ndarray, np.ndarray]:
    """Per cell, the sum of ``x`` over the cells below it at leaf codes of dimension j (the other
    codes fixed), and how many such cells the table holds."""
    st = prob.structs[j]
    leaf_cells = np.flatnonzero(st.leaf_pos[prob.idx[:, j]] >= 0)
    sums = np.zeros(prob.n)
    counts = np.zeros(prob.n, np.int64)
    for lo in range(0, len(leaf_cells), chunk):
        cs = leaf_cells[lo : lo + chunk]
        own, anc = expand_ptr(st.clos_ptr, st.clos_idx, st.leaf_pos[prob.idx[cs, j]])
        cell = cs[own]
        notself = anc != prob.idx[cell, j]
        cell, anc = cell[notself], anc[notself]
        tgt = prob.lookup(prob.key[cell] + (anc.astype(np.int64) - prob.idx[cell, j]) * prob.strides[j])
        ok = tgt >= 0
        sums += np.bincount(tgt[ok], weights=x[cell[ok]], minlength=prob.n)
        counts += np.bincount(tgt[ok], minlength=prob.n)
    return sums, counts


def check_additivity(prob: Problem, *, rtol: float = 1e-9, atol: float = 1e-6, chunk: int = 1 << 20) -> pl.DataFrame:
    """Cells whose value differs from the sum of the published leaf cells below
    them (in one dimension, the others fixed). Parents with no published leaf
    below them in that line are not checked (the equation is not published)."""
    bad_rows = []
    for j, st in enumerate(prob.structs):
        if not st.hierarchical:
            continue
        sums, counts = leaf_sums(prob, j, prob.x, chunk=chunk)
        checked = counts > 0
        diff = np.abs(sums - prob.x)
        bad = checked & (diff > atol + rtol * np.abs(prob.x))
        if bad.any():
            pos = np.flatnonzero(bad)
            f = prob.codes_frame(pos).with_columns(
                pl.lit(st.name).alias("dimension"),
                pl.Series("value", prob.x[pos]),
                pl.Series("sum_of_leaves", sums[pos]),
            )
            bad_rows.append(f)
    if not bad_rows:
        return pl.DataFrame()
    return pl.concat(bad_rows, how="diagonal")


def unknown_lower_bounds(
    cells: pl.DataFrame, dims: list[str], hierarchies: list[Hierarchy], unknown: np.ndarray, value: str
) -> np.ndarray:
    """Values to give the cells nobody knows (the source hid them): the largest sum, over the
    dimensions, of the cells below them, unknown ones counted at their own bound. Counts are
    non-negative, so this is a lower bound of the true value: a cube or fan that moves such a
    cell by at most this much keeps the true table non-negative. Aligned with ``cells``; the
    known values are returned unchanged."""
    frame = cells.with_columns(pl.when(pl.Series(unknown)).then(0.0).otherwise(pl.col(value)).alias(value))
    prob = build_problem(frame, dims, hierarchies, value)
    unk = unknown[prob.perm]
    x = prob.x.copy()
    for _ in range(len(dims) + 1):  # a cell unknown in k dimensions settles after k passes
        before = x.copy()
        for j, st in enumerate(prob.structs):
            if st.hierarchical:
                x = np.where(unk, np.maximum(x, leaf_sums(prob, j, x)[0]), x)
        if np.array_equal(x, before):
            break
    out = np.empty_like(x)
    out[prob.perm] = x
    return out


# ---------------------------------------------------------------------------
# small vectorised helpers


def pad_last(a: np.ndarray, S: int) -> np.ndarray:
    """Pad the last axis with −1 up to S."""
    if a.shape[-1] == S:
        return a
    out = np.full(a.shape[:-1] + (S,), -1, a.dtype)
    out[..., : a.shape[-1]] = a
    return out


def rank_in_group(g: np.ndarray) -> np.ndarray:
    """Rank of each element within its run of equal values (g sorted)."""
    if not len(g):
        return np.zeros(0, np.int64)
    first = np.r_[True, g[1:] != g[:-1]]
    ar = np.arange(len(g))
    return ar - np.maximum.accumulate(np.where(first, ar, 0))


def expand_range(ptr: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row r: positions ptr[r]..ptr[r+1]-1. Returns (owner, position)."""
    starts = ptr[rows]
    lens = (ptr[rows + 1] - starts).astype(np.int64)
    owner = np.repeat(np.arange(len(rows)), lens)
    pos = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(starts, lens)
    return owner, pos


def expand_ptr(ptr: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row r: idx[ptr[r]:ptr[r+1]]. Returns (owner, value)."""
    starts, ends = ptr[rows], ptr[rows + 1]
    lens = (ends - starts).astype(np.int64)
    owner = np.repeat(np.arange(len(rows)), lens)
    offs = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    return owner, idx[np.repeat(starts, lens) + offs]


# ---------------------------------------------------------------------------
# costs


def cell_costs(cost, x: np.ndarray, perm: np.ndarray) -> np.ndarray:
    """Cost of hiding each cell (sorted order): ``"value"`` (the value, plus a
    tiny constant so that fewer cells win ties), ``"log"`` (1 + ln(1 + x)),
    ``"count"`` (1), ``"sqrt"``, a Series aligned with the input rows, or a
    callable on the values."""
    pos = x[x > 0]
    eps = 1e-6 * (pos.mean() if len(pos) else 1.0)
    if isinstance(cost, str):
        if cost == "value":
            c = x + eps
        elif cost == "log":
            c = 1.0 + np.log1p(x)
        elif cost == "count":
            c = np.ones_like(x)
        elif cost == "sqrt":
            c = np.sqrt(x) + eps
        else:
            raise ValueError(f"unknown cost {cost!r}; known: value, log, count, sqrt, a Series or a callable")
    elif isinstance(cost, pl.Series):
        c = cost.cast(pl.Float64).to_numpy()[perm]
    elif callable(cost):
        c = np.asarray(cost(x), dtype=np.float64)
    else:
        raise TypeError("cost must be a name, a polars Series or a callable")
    c = np.asarray(c, dtype=np.float64)
    if c.shape != x.shape or not np.all(np.isfinite(c)) or (c < 0).any():
        raise ValueError("costs must be finite, non-negative, one per cell")
    return c
