"""Secondary cell suppression by generalised hypercubes and leaf flows.

Why it is safe
--------------
Every code of a dimension is the sum of the leaf codes below it (checked on the
data), so every cell is the sum of the *leaf cells* below it and every equation
of every hierarchy follows from that. Take any vector ``w`` over leaf cells and
let ``v = M w`` give each cell the sum of ``w`` below it: ``v`` satisfies every
equation of every hierarchy, linked or not. If ``v`` is zero on the published
cells and ``|v| ≤ x`` everywhere, then ``x + t·v`` for ``t ∈ [-1, 1]`` is another
non-negative table with the same published cells and the same equations: an
attacker who knows all that cannot tell ``x`` from it, so each hidden cell ``c``
keeps a range of at least ``x_c ± |v_c|``.

The engine builds such vectors in two shapes:

* **cubes** ``v = ⊗_d u_d`` with one *move* per dimension,
  ``u_d = M_d(e_a − e_b)`` (two leaves, or one: its closure); entries are ±1,
  so the cube protects each corner ``c`` by the smallest value of the other
  corners. On one tree they are τ-Argus' hypercubes; on linked hierarchies the
  move carries the correction (the two zones of two communes of a département,
  their perimeters…) that the classic hypercube lacks and that makes it unsafe.
* **fans** ``w = Σ α (e_(a,ℓ) − e_(b,ℓ))``: many small flows between leaf cells
  below the target and leaf cells of partners, when no single cube has enough
  room (large cells dominated by one unit).

Search
------
Cells to protect are taken by decreasing value (ties by codes), in chunks,
vectorised with numpy. Per dimension, candidate moves are checked on the
target's own line (necessary: every cube through the target contains that
line's support) and ranked by the cost of what they would newly hide; a beam
search combines them into full cubes, every corner looked up, checked (present,
value ≥ U) and costed; the cheapest feasible cube is hidden, or a fan when
cubes are impossible or much dearer. A cube or fan also protects the other
hidden cells it covers enough, so most cells are protected by cubes found for
others at no cost. Cells newly hidden and not protected by their own cube are
protected in turn (``protect_secondary=True``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .problem import Problem, expand_ptr, expand_range, rank_in_group
from .structure import orient, pair_supports

PUBLISHED, SECRET, SECONDARY, UNPUBLISHED = 0, 1, 2, 3

SMALL_DIM = 12
"""Dimensions with at most this many leaves get every move precomputed."""
DYN_LEAVES = 4
"""Leaves tried below an aggregate code of a large dimension (the heaviest on the line)."""
NEIGHBOURS = 3
"""Partners tried on each side of a leaf cell, by value, in each of its groups."""
FAN_LEAVES = 6
"""Leaves per large dimension tried below a target, in fans."""
FAN_SOURCES = 24
"""Heaviest leaf cells below a target used as fan sources."""
FAN_ROOM = 4.0
"""Fan sources are taken until their values add up to this many times U."""
FAN_NEIGHBOURS = 3
"""Partners per side and group of a fan source, in a large fan dimension."""
FAN_CHUNK = 256


def _capped_increments(group: np.ndarray, room: np.ndarray, cap: np.ndarray) -> np.ndarray:
    """Sequential filling, vectorised: items in order, grouped by ``group``
    (any order of groups), each taking up to ``room``, the running total of a
    group capped at ``cap`` (per item, the group's cap). Returns the takes."""
    o = np.argsort(group, kind="stable")
    g, r, c = group[o], room[o], cap[o]
    cs = np.cumsum(r)
    first = np.r_[True, g[1:] != g[:-1]] if len(g) else np.zeros(0, bool)
    base = np.maximum.accumulate(np.where(first, cs - r, 0.0)) if len(g) else cs
    run = np.minimum(cs - base, c)
    prev = np.r_[0.0, run[:-1]]
    prev[first] = 0.0
    out = np.empty(len(group))
    out[o] = np.maximum(run - prev, 0.0)
    return out


class _Neighbours:
    """Positive leaf cells of a large dimension j, sorted by (line, group,
    value), to find partners of similar value on the same line: twins (same
    closure), children of the same parent, or any leaf."""

    def __init__(self, prob: Problem, j: int, anchors: np.ndarray | None = None) -> None:
        st = prob.structs[j]
        lp_all = st.leaf_pos[prob.idx[:, j]]
        # zero cells that need protection are anchors too (their partners are the smallest
        # positive cells of their groups)
        ok = prob.x > 0 if anchors is None else (prob.x > 0) | anchors
        cells = np.flatnonzero((lp_all >= 0) & ok)
        own, g = expand_ptr(st.grp_ptr, st.grp_idx, lp_all[cells].astype(np.int64))
        e_cell = cells[own]
        e_line = prob.key[e_cell] - prob.idx[e_cell, j].astype(np.int64) * prob.strides[j]
        order = np.lexsort((e_cell, prob.x[e_cell], g, e_line))
        self.cell = e_cell[order]
        self.line = e_line[order]
        self.group = g[order]
        self.leaf = lp_all[self.cell].astype(np.int64)
        self.by_cell = np.argsort(self.cell, kind="stable")
        self.by_cell_cells = self.cell[self.by_cell]

    def partners(self, anchors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(anchor position, partner leaf) for partners within k ranks."""
        lo = np.searchsorted(self.by_cell_cells, anchors, side="left")
        hi = np.searchsorted(self.by_cell_cells, anchors, side="right")
        lens = hi - lo
        own = np.repeat(np.arange(len(anchors)), lens)
        pos = self.by_cell[np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens) + np.repeat(lo, lens)]
        outs_o, outs_l = [], []
        E = len(self.cell)
        for off in [*range(1, k + 1), *range(-k, 0)]:
            q = pos + off
            qs = np.clip(q, 0, E - 1)
            ok = (q >= 0) & (q < E) & (self.line[qs] == self.line[pos]) & (self.group[qs] == self.group[pos])
            outs_o.append(own[ok])
            outs_l.append(self.leaf[qs[ok]])
        return np.concatenate(outs_o), np.concatenate(outs_l)


@dataclass
class SearchResult:
    feasible: np.ndarray
    cost: np.ndarray
    cells: np.ndarray
    """(n, C) cell positions of the chosen cube, −1 padded; column 0 is the target."""
    signs: np.ndarray
    """(n, C) the cube's entries (±1), target +1."""


class Engine:
    """Greedy protection of hidden cells by cubes and fans."""

    def __init__(
        self,
        prob: Problem,
        hidden: np.ndarray,
        costs: np.ndarray,
        *,
        protection: float,
        min_protection: float = 0.0,
        protect_secondary: bool | str = True,
        zero_protection: float | np.ndarray = 0.0,
        unpublished: np.ndarray | None = None,
        forbid: np.ndarray | None = None,
        beam: int = 2,
        width: int = 2,
        fan_ratio: float = 20.0,
        fan_min: float = 50.0,
        fan_dims: int = 2,
        penalty: float = 1.0,
        chunk: int = 512,
        largest_first: bool = True,
        record: bool = False,
    ) -> None:
        self.p = prob
        x = prob.x
        self.hidden = hidden.copy()
        self.status = np.where(hidden, SECRET, PUBLISHED).astype(np.int8)
        self.cost = costs
        # A hidden zero needs an upper bound of at least ``zero_protection`` (a zero of a small
        # population tells that none of its units had the event): one-sided, values cannot go below 0.
        self.U = np.where(x > 0, np.maximum(protection * x, min_protection), np.where(hidden, zero_protection, 0.0))
        self.protected = self.U <= 0
        self.usable = np.ones(prob.n, bool) if forbid is None else ~forbid
        if forbid is not None and (forbid & hidden).any():
            raise ValueError("some cells are both hidden (primary or kept) and required to stay published")
        if unpublished is not None:
            # Not in the export: free to use, nothing to protect.
            self.hidden |= unpublished
            self.protected[unpublished] = True
            self.status[unpublished] = UNPUBLISHED
        self.cost_eff = np.where(self.hidden, 0.0, costs)
        self.protect_secondary = protect_secondary
        self.beam, self.width, self.penalty, self.chunk = beam, width, penalty, chunk
        self.fan_ratio, self.fan_min = fan_ratio, fan_min
        self.fan_dims = fan_dims
        self.sign = -1.0 if largest_first else 1.0
        self.hier = [j for j, st in enumerate(prob.structs) if st.hierarchical]
        # The dimension with the most leaves first: its partners must exist on
        # the target's own line; the smaller dimensions then adapt to them.
        self.hier.sort(key=lambda j: (-len(prob.structs[j].leaves), j))
        self.unprotected = np.empty(0, np.int64)
        self._nb: dict[int, _Neighbours] = {}
        self.record = record
        self.witness: dict[int, tuple[np.ndarray, np.ndarray]] = {}
        """Per protected cell (with ``record``): (cells, v) of a vector that protects it."""
        self.stats = {"chunks": 0, "searched": 0, "cubes": 0, "fans": 0, "hard": 0}
        self.trace = False

    # -- candidate moves --------------------------------------------------------

    def _neighbours(self, j: int) -> _Neighbours:
        nb = self._nb.get(j)
        if nb is None:
            # with zero targets, zero leaf cells are anchors too (those below a zero target)
            zeros = (self.p.x <= 0) if (self.U[self.p.x <= 0] > 0).any() else None
            nb = self._nb[j] = _Neighbours(self.p, j, zeros)
        return nb

    def _candidates(self, t: np.ndarray, j: int, k: int = NEIGHBOURS):
        """Candidate moves of each target in dimension j, flat: (owner, support,
        signs), the target's own code first with sign +1."""
        p, st = self.p, self.p.structs[j]
        code = p.idx[t, j].astype(np.int64)
        if len(st.leaves) <= SMALL_DIM:
            o, mv = expand_range(st.move_ptr, code)
            return o, st.move_sup[mv].astype(np.int64), st.move_sign[mv]
        # Large dimension: moves around "anchor" leaf cells of the target's line
        # — the target itself if its code is a leaf, else the heaviest leaves
        # below it — pairing each anchor with leaves of similar value on the
        # same line (twins, children of the same parents, any leaf), or with
        # nothing (the anchor's closure).
        isleaf = st.leaf_pos[code] >= 0
        a_owner = [np.flatnonzero(isleaf)]
        a_cell = [t[isleaf]]
        td = np.flatnonzero(~isleaf)
        if len(td):
            own, lf = expand_ptr(st.lset_ptr, st.lset_idx, code[td])
            leafcode = st.leaves[lf].astype(np.int64)
            cell = p.lookup(p.key[t[td]][own] + (leafcode - code[td][own]) * p.strides[j])
            val = np.where(cell >= 0, p.x[np.maximum(cell, 0)], -1.0)
            order = np.lexsort((leafcode, -val, own))
            own, cell, val = own[order], cell[order], val[order]
            # below a zero target every leaf is zero: any present one is an anchor
            sel = (rank_in_group(own) < DYN_LEAVES) & ((val > 0) | ((val == 0) & (p.x[t[td]][own] <= 0)))
            a_owner.append(td[own[sel]])
            a_cell.append(cell[sel])
        a_owner = np.concatenate(a_owner)
        a_cell = np.concatenate(a_cell)
        a_leaf = st.leaf_pos[p.idx[a_cell, j]].astype(np.int64)
        n_owner, n_leaf = self._neighbours(j).partners(a_cell, k)
        owner = np.concatenate([a_owner, a_owner[n_owner]])
        la = np.concatenate([a_leaf, a_leaf[n_owner]])
        lb = np.concatenate([np.full(len(a_owner), -1), n_leaf])
        nl = len(st.leaves) + 1
        uk = np.unique((owner * nl + la) * nl + (lb + 1))
        owner, la, lb = uk // (nl * nl), (uk // nl) % nl, uk % nl - 1
        sup, sgn = pair_supports(st, la, lb)
        ok, sup, sgn = orient(sup, sgn, code[owner])
        return owner[ok], sup[ok], sgn[ok]

    def _lines(self, t: np.ndarray, j: int, width: int, wide: int = 1):
        """Per target, moves checked on the target's own line: the ``width``
        cheapest, then the ``wide`` ones whose line has the largest smallest
        value (the likeliest to give a feasible cube). Returns supports and
        signs, (n, width + wide, S), rows of −1 when missing."""
        p = self.p
        code = p.idx[t, j].astype(np.int64)
        owner, sup, sgn = self._candidates(t, j)
        S = max(1, sup.shape[1])
        out = np.full((len(t), width + wide, S), -1, np.int64)
        out_s = np.zeros((len(t), width + wide, S), np.int8)
        if not len(owner):
            return out, out_s
        pad = sup < 0
        keys = p.key[t][owner, None] + (sup - code[owner, None]) * p.strides[j]
        cell = p.lookup(np.where(pad, -1, keys))
        safe = np.maximum(cell, 0)
        xv = np.where((cell >= 0) & self.usable[safe], p.x[safe], -1.0)
        xv[:, 0] = np.inf
        # a zero target only moves up: the entries that move with it need nothing but presence
        up = (p.x[t][owner] <= 0)[:, None] & (sgn > 0) & (cell >= 0) & self.usable[safe]
        xv = np.where(up, np.inf, xv)
        cap = np.where(pad, np.inf, xv).min(axis=1)
        feas = cap >= self.U[t][owner]
        lcost = np.where(cell >= 0, self.cost_eff[safe], 0.0).sum(axis=1)
        seq = np.arange(len(owner))
        for col0, n_keep, order in (
            (0, width, np.lexsort((seq, lcost, ~feas, owner))),
            # largest room first; on ties closures (no −1 entry), whose
            # combination is always feasible for a target at leaf level
            (width, wide, np.lexsort((seq, (sgn < 0).any(axis=1), -cap, ~feas, owner))),
        ):
            rank = rank_in_group(owner[order])
            sel = feas[order] & (rank < n_keep)
            rows, cols, src = owner[order][sel], col0 + rank[sel], order[sel]
            out[rows, cols] = sup[src]
            out_s[rows, cols] = sgn[src]
        return out, out_s

    # -- cubes -----------------------------------------------------------------

    def _beam(self, t: np.ndarray, sups: list, beam: int):
        """Combine one move per dimension into cubes through each target. Returns
        (cells (n, B, C) −1 padded, target first; signs; valid (n, B); cost of
        the cells not hidden yet). Every corner must be present, usable, with
        value ≥ U of the target."""
        p = self.p
        n = len(t)
        Ut = self.U[t]
        cells = t[:, None, None].astype(np.int64)
        signs = np.ones((n, 1, 1), np.int8)
        keys = p.key[t][:, None, None]
        valid = np.ones((n, 1), bool)
        cst = np.zeros((n, 1))
        zero_t = p.x[t] <= 0
        for j, sup, sgn in sups:
            B, C = cells.shape[1], cells.shape[2]
            K, S = sup.shape[1], sup.shape[2]
            mvalid = sup[:, :, 0] >= 0
            code = p.idx[t, j].astype(np.int64)
            delta = (sup - code[:, None, None]) * p.strides[j]
            pad = (cells < 0)[:, :, None, :, None] | (sup < 0)[:, None, :, None, :]
            nk = keys[:, :, None, :, None] + delta[:, None, :, None, :]
            nk = np.where(pad, -1, nk).reshape(n, B * K, C * S)
            ns = (signs[:, :, None, :, None] * sgn[:, None, :, None, :]).reshape(n, B * K, C * S)
            pad = pad.reshape(n, B * K, C * S)
            nc = p.lookup(nk)
            safe = np.maximum(nc, 0)
            big = p.x[safe] >= Ut[:, None, None]
            if zero_t.any():
                big |= zero_t[:, None, None] & (ns > 0)  # moves up with a zero target: no room needed
            okv = pad | ((nc >= 0) & self.usable[safe] & big)
            okv[:, :, 0] = True  # the target itself
            feas = okv.all(axis=2) & (valid[:, :, None] & mvalid[:, None, :]).reshape(n, B * K)
            cst = np.where(nc >= 0, self.cost_eff[safe], 0.0).sum(axis=2)
            nc = np.where(pad, -1, nc)
            keepn = min(beam, B * K)
            pick = np.argsort(np.where(feas, cst, np.inf), axis=1, kind="stable")[:, :keepn]
            rows = np.arange(n)[:, None]
            nc, nk, ns, feas, cst = nc[rows, pick], nk[rows, pick], ns[rows, pick], feas[rows, pick], cst[rows, pick]
            # compact: padding last, then trim
            padm = nc < 0
            o = np.argsort(padm, axis=2, kind="stable")
            wc = max(1, int((~padm).sum(axis=2).max(initial=1)))
            cells = np.take_along_axis(nc, o, axis=2)[:, :, :wc]
            keys = np.take_along_axis(nk, o, axis=2)[:, :, :wc]
            signs = np.take_along_axis(ns, o, axis=2)[:, :, :wc]
            valid = feas
        return cells, signs, valid, cst

    def search(self, t: np.ndarray, lines: dict, beam: int, cols: list | None = None) -> SearchResult:
        """Cheapest single cube per target from precomputed line moves."""
        sups = []
        for j in self.hier:
            sup, sgn = lines[j]
            if cols is not None:
                sup, sgn = sup[:, cols, :], sgn[:, cols, :]
            sups.append((j, sup, sgn))
        cells, signs, valid, cst = self._beam(t, sups, beam)
        if self.protect_secondary is True and self.penalty > 0 and cells.shape[2] > 1:
            # New cells that their own cube would not protect will need cubes of
            # their own: count them twice.
            mex = self._min_excl(cells)
            safe = np.maximum(cells, 0)
            unprot = (cells >= 0) & ~self.hidden[safe] & (mex < self.U[safe])
            cst = cst + self.penalty * np.where(unprot, self.cost[safe], 0.0).sum(axis=2)
        best = np.argmin(np.where(valid, cst, np.inf), axis=1)
        rows = np.arange(len(t))
        ok = valid[rows, best]
        return SearchResult(ok, np.where(ok, cst[rows, best], np.inf), cells[rows, best], signs[rows, best])

    def _min_excl(self, cells: np.ndarray) -> np.ndarray:
        """For each corner, the smallest value among the other corners (+inf if none)."""
        xv = np.where(cells >= 0, self.p.x[np.maximum(cells, 0)], np.inf)
        if xv.shape[-1] == 1:
            return np.full(xv.shape, np.inf)
        part = np.partition(xv, 1, axis=-1)
        m1, m2 = part[..., :1], part[..., 1:2]
        am = np.argmin(xv, axis=-1)[..., None]
        return np.where(np.arange(xv.shape[-1]) == am, m2, m1)

    # -- fans: leaf flows ----------------------------------------------------------

    def _leaf_choices(self, t: np.ndarray, j: int, limit: int) -> tuple[np.ndarray, np.ndarray]:
        """Leaves below each target's code in dimension j: all of them in a
        small dimension, else the ``limit`` heaviest on the target's line.
        Returns (owner, leaf position), owners ascending."""
        p, st = self.p, self.p.structs[j]
        code = p.idx[t, j].astype(np.int64)
        own, lf = expand_ptr(st.lset_ptr, st.lset_idx, code)
        if len(st.leaves) <= SMALL_DIM:
            return own, lf.astype(np.int64)
        leafcode = st.leaves[lf].astype(np.int64)
        cell = p.lookup(p.key[t][own] + (leafcode - code[own]) * p.strides[j])
        val = np.where(cell >= 0, p.x[np.maximum(cell, 0)], -1.0)
        order = np.lexsort((leafcode, -val, own))
        own, lf, val = own[order], lf[order], val[order]
        sel = (rank_in_group(own) < limit) & (val > 0)
        return own[sel], lf[sel].astype(np.int64)

    def fan(self, t: np.ndarray) -> tuple[np.ndarray, np.ndarray, list]:
        """Protect each target by a leaf flow ``w = Σ α (e_(a,ℓ) − e_(b,ℓ))``:
        ``(a, ℓ)`` a leaf cell below the target, ``b`` a leaf of one "fan"
        dimension f whose closure lacks the target's code, ``Σ|w| ≤ x`` on every
        leaf cell, ``Σ α ≥ U_s``. ``v = M w`` is then ``v(s) = Σ α``, ``|v| ≤ x``
        (each cell is the sum of the leaf cells below it) and zero off the
        cells ``(closure(a) Δ closure(b)) × closures of ℓ``, which get hidden.
        Sources are the heaviest leaf cells below the target, partners leaves
        of similar value on the same line (large f) or all leaves (small f);
        paths are taken cheapest per unit first; the cheapest fan dimension
        wins. Returns (ok, cost, plans); a plan is (cells, v)."""
        p = self.p
        n = len(t)
        best_cost = np.full(n, np.inf)
        best_dim = np.full(n, -1)
        plans: list = []
        # Leaf cells below each target (sources), heaviest first.
        own = np.arange(n)
        key = p.key[t].copy()
        leafs: list[np.ndarray] = []
        for j in self.hier:
            o, lf = self._leaf_choices(t, j, FAN_LEAVES)
            ptr = np.searchsorted(o, np.arange(n + 1))
            r_own, pos = expand_range(ptr, own)
            code = p.structs[j].leaves[lf[pos]].astype(np.int64)
            key = key[r_own] + (code - p.idx[t[own[r_own]], j]) * p.strides[j]
            leafs = [l[r_own] for l in leafs] + [lf[pos]]
            own = own[r_own]
        src = p.lookup(key)
        ok = src >= 0
        ok[ok] = (p.x[src[ok]] > 0) & self.usable[src[ok]]
        own, src, leafs = own[ok], src[ok], [l[ok] for l in leafs]
        order = np.lexsort((src, -p.x[src], own))
        # the heaviest sources, no more than needed: until their values add up
        # to a few times the protection wanted
        xs = p.x[src[order]]
        cs = np.cumsum(xs)
        first = np.r_[True, own[order][1:] != own[order][:-1]] if len(order) else np.zeros(0, bool)
        before = cs - xs - np.maximum.accumulate(np.where(first, cs - xs, 0.0))
        sel = order[(rank_in_group(own[order]) < FAN_SOURCES) & (before < FAN_ROOM * self.U[t][own[order]])]
        own, src, leafs = own[sel], src[sel], [l[sel] for l in leafs]
        origin = p.key[t] - (p.idx[t].astype(np.int64) @ p.strides)
        top = np.ones(n, bool)
        for j in self.hier:
            st = p.structs[j]
            c = p.idx[t, j].astype(np.int64)
            top &= (st.lset_ptr[c + 1] - st.lset_ptr[c]) == len(st.leaves)
        for fi, f in enumerate(self.hier[: self.fan_dims]):
            st = p.structs[f]
            cf = p.idx[t, f].astype(np.int64)
            a = leafs[fi]
            # partners b of each source in dimension f
            if len(st.leaves) <= SMALL_DIM:
                nl = len(st.leaves)
                po = np.repeat(np.arange(len(src)), nl)
                pb = np.tile(np.arange(nl), len(src))
            else:
                po, pb = self._neighbours(f).partners(src, FAN_NEIGHBOURS)
            # the same partner is often found through several groups
            uk = np.unique(po * (len(st.leaves) + 1) + pb)
            po, pb = uk // (len(st.leaves) + 1), uk % (len(st.leaves) + 1)
            pa = a[po]
            good = (pb != pa) & ~(st.anc[pb] == cf[own[po]][:, None]).any(axis=1)
            po, pb, pa = po[good], pb[good], pa[good]
            pcell = p.lookup(p.key[src[po]] + (st.leaves[pb].astype(np.int64) - st.leaves[pa]) * p.strides[f])
            good = pcell >= 0
            good[good] = p.x[pcell[good]] > 0
            po, pb, pa, pcell = po[good], pb[good], pa[good], pcell[good]
            topf = (st.lset_ptr[cf + 1] - st.lset_ptr[cf]) == len(st.leaves)
            if (fi == 0 and top[own].any()) or topf[own].any():
                # no partner: the flow leaves the table through every ancestor — the only way to
                # move a cell that is a total in every dimension, or in this one (no leaf outside
                # it to pair with)
                sa = np.flatnonzero(top[own] | topf[own])
                po = np.concatenate([po, sa])
                pb = np.concatenate([pb, np.full(len(sa), -1)])
                pa = np.concatenate([pa, a[sa]])
                pcell = np.concatenate([pcell, np.full(len(sa), -1)])
            if not len(po):
                continue
            # cells of each path: (closure(a) Δ closure(b)) × closures of ℓ
            fsup, fsgn = pair_supports(st, pa, pb)
            keys = origin[own[po]][:, None] + np.where(fsup >= 0, fsup * p.strides[f], 0)
            padm = fsup < 0
            sgn = fsgn.astype(np.float64)
            for dj, d in enumerate(self.hier):
                if d == f:
                    continue
                an = p.structs[d].anc[leafs[dj][po]].astype(np.int64)
                keys = (keys[:, :, None] + np.where(an >= 0, an * p.strides[d], 0)[:, None, :]).reshape(len(po), -1)
                padm = (padm[:, :, None] | (an < 0)[:, None, :]).reshape(len(po), -1)
                sgn = np.repeat(sgn, an.shape[1], axis=1)
            for d in range(len(p.dims)):
                if d not in self.hier:
                    keys = keys + p.idx[t[own[po]], d].astype(np.int64)[:, None] * p.strides[d]
            cells = np.where(padm, -1, p.lookup(np.where(padm, -1, keys)))
            safe = np.maximum(cells, 0)
            valid = ~((cells < 0) & ~padm).any(axis=1) & ~((cells >= 0) & ~self.usable[safe]).any(axis=1)
            cost = np.where(cells >= 0, self.cost_eff[safe], 0.0).sum(axis=1)
            cap = np.where(pcell >= 0, np.minimum(p.x[src[po]], p.x[np.maximum(pcell, 0)]), p.x[src[po]])
            po, pcell, cells, sgn, cost, cap = po[valid], pcell[valid], cells[valid], sgn[valid], cost[valid], cap[valid]
            if not len(po):
                continue
            # Greedy flow, cheapest per unit first. A partner cell serves one
            # path (the first); a source's paths share its value: along them
            # the running total is min(x_source, Σ room), so each path gets
            # the increment; then the target's running total is capped at U.
            tgt = own[po]
            order = np.lexsort((np.arange(len(po)), cost / np.maximum(cap, 1e-300), tgt))
            tgt, po, pcell, cells, sgn, cap = tgt[order], po[order], pcell[order], cells[order], sgn[order], cap[order]
            pk = np.where(pcell >= 0, tgt * p.n + pcell, -1 - np.arange(len(po)))
            _, first = np.unique(pk, return_index=True)
            keep = np.zeros(len(po), bool)
            keep[first] = True
            tgt, po, pcell, cells, sgn, cap = tgt[keep], po[keep], pcell[keep], cells[keep], sgn[keep], cap[keep]
            alpha = _capped_increments(po, cap, p.x[src[po]])
            alpha = _capped_increments(tgt, alpha, self.U[t][tgt])
            got = np.bincount(tgt, weights=alpha, minlength=n)
            done = got >= self.U[t] * (1 - 1e-9)
            used = (alpha > 0) & done[tgt]
            if not used.any():
                continue
            # v over the cells of the chosen paths, per target
            uc = cells[used]
            uv = sgn[used] * alpha[used][:, None]
            ut = np.repeat(tgt[used], uc.shape[1])
            uc, uv = uc.reshape(-1), uv.reshape(-1)
            m = uc >= 0
            vid, vinv = np.unique(ut[m] * p.n + uc[m], return_inverse=True)
            vv = np.zeros(len(vid))
            np.add.at(vv, vinv, uv[m])
            vt, vc = vid // p.n, vid % p.n
            nz = np.abs(vv) > 1e-12 * np.maximum(1.0, self.U[t][vt])
            vt, vc, vv = vt[nz], vc[nz], vv[nz]
            vcost = np.bincount(vt, weights=self.cost_eff[vc], minlength=n)
            better = done & (vcost < best_cost)
            best_cost[better] = vcost[better]
            plans.append((fi, vt, vc, vv))
            best_dim[better] = len(plans) - 1
        # the chosen plans, flat: (target position, cell, v)
        parts = [(vt[best_dim[vt] == k], vc[best_dim[vt] == k], vv[best_dim[vt] == k]) for k, (_, vt, vc, vv) in enumerate(plans)]
        if parts:
            ft, fc, fv = (np.concatenate(z) for z in zip(*parts))
            o = np.argsort(ft, kind="stable")
            ft, fc, fv = ft[o], fc[o], fv[o]
        else:
            ft, fc, fv = np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0)
        return np.isfinite(best_cost), best_cost, (ft, fc, fv)

    def _fans(self, t: np.ndarray):
        oks, costs, fts, fcs, fvs = [], [], [], [], []
        for lo in range(0, len(t), FAN_CHUNK):
            o, c, (ft, fc, fv) = self.fan(t[lo:lo + FAN_CHUNK])
            oks.append(o)
            costs.append(c)
            fts.append(ft + lo)
            fcs.append(fc)
            fvs.append(fv)
        return np.concatenate(oks), np.concatenate(costs), (np.concatenate(fts), np.concatenate(fcs), np.concatenate(fvs))

    # -- bookkeeping ----------------------------------------------------------

    def _protect_cubes(self, cubes: np.ndarray, signs: np.ndarray) -> None:
        """Mark every corner its cube protects (smallest other value ≥ U)."""
        if cubes.size == 0:
            return
        mex = self._min_excl(cubes)
        safe = np.maximum(cubes, 0)
        zero = (cubes >= 0) & (self.p.x[safe] <= 0)
        if zero.any():
            # one-sided: a zero corner moves up while the corners of the other sign move down
            xv = np.where(cubes >= 0, self.p.x[safe], np.inf)
            m_plus = np.where(signs > 0, xv, np.inf).min(axis=1, keepdims=True)
            m_minus = np.where(signs < 0, xv, np.inf).min(axis=1, keepdims=True)
            mex = np.where(zero, np.where(signs > 0, m_minus, m_plus), mex)
        ok = (cubes >= 0) & (mex >= self.U[safe])
        if self.record:
            for r, c in zip(*np.nonzero(ok & ~zero)):
                cell = int(cubes[r, c])
                if cell not in self.witness and not self.protected[cell]:
                    m = cubes[r] >= 0
                    self.witness[cell] = (cubes[r][m], signs[r][m].astype(float) * mex[r, c])
        self.protected[safe[ok]] = True

    def _hide(self, cells: np.ndarray) -> np.ndarray:
        c = np.unique(cells[cells >= 0])
        new = c[~self.hidden[c]]
        self.hidden[new] = True
        self.status[new] = SECONDARY
        self.cost_eff[new] = 0.0
        return new

    def _order(self, cells: np.ndarray) -> np.ndarray:
        """Distinct unprotected cells, by decreasing (or increasing) value, then codes."""
        cells = np.unique(cells)
        cells = cells[~self.protected[cells]]
        return cells[np.lexsort((self.p.key[cells], self.sign * self.p.x[cells]))]

    # -- driver ---------------------------------------------------------------

    def _process(self, chunk: np.ndarray, width: int, beam: int) -> tuple[np.ndarray, np.ndarray]:
        """Protect a chunk of targets. Returns (new hidden cells, failed targets)."""
        W = width
        lines = {j: self._lines(chunk, j, W) for j in self.hier}
        # 1. greedy cube (cheapest or safest move per dimension), taken if free
        r = self.search(chunk, lines, 1, [0, W])
        free = r.feasible & np.all((r.cells < 0) | self.hidden[np.maximum(r.cells, 0)], axis=1)
        self._protect_cubes(r.cells[free], r.signs[free])
        keep = ~self.protected[chunk]
        rest = chunk[keep]
        if not len(rest):
            return np.empty(0, np.int64), rest
        lines = {j: (s[keep], g[keep]) for j, (s, g) in lines.items()}
        self.stats["searched"] += len(rest)
        # 2. beam search for one cube; the all-safe cube where it fails
        r = self.search(rest, lines, beam)
        bad = np.flatnonzero(~r.feasible)
        if len(bad):
            r2 = self.search(rest[bad], {j: (s[bad], g[bad]) for j, (s, g) in lines.items()}, 1, [W])
            ok = np.flatnonzero(r2.feasible)
            if len(ok):
                C = max(r.cells.shape[1], r2.cells.shape[1])
                cells = np.full((len(rest), C), -1, np.int64)
                signs = np.zeros((len(rest), C), np.int8)
                cells[:, : r.cells.shape[1]] = r.cells
                signs[:, : r.cells.shape[1]] = r.signs
                cells[bad[ok]] = -1
                cells[bad[ok], : r2.cells.shape[1]] = r2.cells[ok]
                signs[bad[ok], : r2.cells.shape[1]] = r2.signs[ok]
                r.cells, r.signs = cells, signs
                r.feasible[bad[ok]] = True
                r.cost[bad[ok]] = r2.cost[ok]
        # 3. fans where one cube is impossible or hides cells far larger than the target
        cc = np.maximum(r.cells, 0)
        bignew = np.where((r.cells >= 0) & ~self.hidden[cc], self.p.x[cc], 0.0).max(axis=1, initial=0.0)
        xr = self.p.x[rest]
        dear = np.flatnonzero(~r.feasible | (bignew > np.maximum(self.fan_ratio * xr, self.fan_min)))
        use_fan = np.zeros(len(rest), bool)
        if len(dear) and self.fan_ratio >= 0:
            fok, fcost, (ft, fc, fv) = self._fans(rest[dear])
            better = fok & (fcost < r.cost[dear])
            use_fan[dear[better]] = True
            sel = better[ft]
            ft, fc, fv = dear[ft[sel]], fc[sel], fv[sel]
            self.stats["fans"] += int(better.sum())
        use_cube = r.feasible & ~use_fan
        new = [self._hide(r.cells[use_cube])]
        self.stats["cubes"] += int(use_cube.sum())
        self._protect_cubes(r.cells[use_cube], r.signs[use_cube])
        if use_fan.any():
            new.append(self._hide(fc))
            ok = np.abs(fv) >= self.U[fc] * (1 - 1e-12)
            if self.record:
                bounds = np.searchsorted(ft, np.arange(len(rest) + 1))
                for i in np.flatnonzero(use_fan):
                    sl = slice(bounds[i], bounds[i + 1])
                    cells_i, v_i = fc[sl], fv[sl]
                    for c in cells_i[np.abs(v_i) >= self.U[cells_i] * (1 - 1e-12)].tolist() + [int(rest[i])]:
                        if c not in self.witness and not self.protected[c]:
                            self.witness[c] = (cells_i, v_i)
            self.protected[fc[ok]] = True
            self.protected[rest[use_fan]] = True  # v(s) = U_s up to rounding
        failed = rest[~r.feasible & ~use_fan]
        return np.unique(np.concatenate(new)), failed

    def run(self) -> None:
        if not self.hier:  # no equation: nothing can be recovered
            self.protected[:] = True
            return
        queue = self._order(np.flatnonzero(self.hidden))
        hard: list[np.ndarray] = []
        wide = False
        while len(queue):
            if self.trace:
                xq = self.p.x[queue]
                print(f"wave: {len(queue)} targets, x max {xq.max():.0f} median {np.median(xq):.0f}; hidden {self.hidden.sum()}")
            wave: list[np.ndarray] = []
            step = self.chunk if not wide else max(64, self.chunk // 32)
            width, beam = (self.width, self.beam) if not wide else (3 * self.width, 3 * self.beam)
            for lo in range(0, len(queue), step):
                chunk = queue[lo:lo + step]
                chunk = chunk[~self.protected[chunk]]
                if not len(chunk):
                    continue
                self.stats["chunks"] += 1
                new, failed = self._process(chunk, width, beam)
                if len(failed):
                    hard.append(failed)
                if self.protect_secondary is True and len(new):
                    wave.append(new[~self.protected[new]])
            queue = self._order(np.concatenate(wave)) if wave else np.empty(0, np.int64)
            if not len(queue) and hard and not wide:
                # cells the normal search could not protect: once more, wider
                queue = self._order(np.concatenate(hard))
                self.stats["hard"] += len(queue)
                hard = []
                wide = True
        self.unprotected = self._order(np.concatenate(hard)) if hard else np.empty(0, np.int64)
