"""Dimension structures: hierarchies, leaf sets and the 1-D "moves".

The model (see ``docs/secret.md``)
---------------------------------
A dimension's codes are linked by parent → children edges, possibly from several
hierarchies at once (départements and zones d'emploi both split the région;
SPSTI perimeters overlap). Whatever the edges, every code is the sum of the
*leaf* codes below it (its leaf set ``L(q)``); this is the identity that the
engine assumes and that :func:`check_additivity` verifies on the data. Every
published equation ``parent = Σ children`` whose children's leaf sets partition
the parent's leaf set is a consequence of these identities, so protecting against
all of them protects against every hierarchy at once, declared or not.

A *move* in one dimension is the vector ``u = M(e_a - e_b)`` where ``a`` and ``b``
are leaves (``b`` may be absent) and ``M`` maps a leaf to every code whose leaf set
contains it (its *closure*). ``u`` is +1 on the codes containing ``a`` but not
``b``, −1 on those containing ``b`` but not ``a``, 0 elsewhere, and it satisfies
every identity ``u(q) = Σ_{a ∈ L(q)} w(a)``: it is in the null space of every
equation of the dimension. Tensor products of moves are the protection vectors
(generalised hypercubes) of :mod:`.engine`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import polars as pl

TOTAL = "_T"
"""Code of the total in every dimension (SDMX convention)."""


@dataclass(frozen=True, eq=False)
class Hierarchy:
    """Parent → child edges over the codes of one dimension.

    ``edges`` has String columns ``parent`` and ``child``. A parent may have
    children from several decompositions, a child may have several parents; the
    engine only relies on "every code is the sum of the leaves below it", which
    is checked against the data. An optional ``group`` column is accepted and
    ignored (decompositions need not be told apart).
    """

    dimension: str
    edges: pl.DataFrame
    name: str = ""


class HierarchyError(ValueError):
    """The hierarchies or the data they describe are inconsistent."""


@dataclass(eq=False)
class DimStructure:
    """Everything the engine needs about one dimension (codes as indices into
    ``codes``, which is sorted)."""

    name: str
    codes: np.ndarray
    hierarchical: bool
    leaves: np.ndarray
    """Code indices of the leaves, ascending."""
    leaf_pos: np.ndarray
    """Per code: its position in ``leaves`` or −1."""
    clos_ptr: np.ndarray
    clos_idx: np.ndarray
    """CSR per leaf position: the codes whose leaf set contains the leaf (itself included)."""
    lset_ptr: np.ndarray
    lset_idx: np.ndarray
    """CSR per code: positions of the leaves of its leaf set."""
    move_ptr: np.ndarray
    """CSR per code into ``move_sup``: the candidate moves of that code, best first."""
    move_sup: np.ndarray
    """(n_moves, S) code indices of each move's support, −1 padded; the code the
    move belongs to comes first, with sign +1."""
    move_sign: np.ndarray
    """(n_moves, S) signs (+1/−1, 0 on padding)."""
    anc: np.ndarray | None = None
    """(n_leaves, W) closure of each leaf, the leaf first, −1 padded."""
    grp_ptr: np.ndarray | None = None
    grp_idx: np.ndarray | None = None
    """CSR per leaf position: neighbourhood groups (twins, children of each direct parent)."""

    @property
    def n_codes(self) -> int:
        return len(self.codes)

    def code_index(self, codes) -> np.ndarray:
        codes = np.asarray(codes, dtype=object).astype(str)
        i = np.searchsorted(self.codes, codes)
        i = np.minimum(i, len(self.codes) - 1)
        if not np.all(self.codes[i] == codes):
            bad = codes[self.codes[i] != codes][:5]
            raise KeyError(f"unknown codes in dimension {self.name!r}: {list(bad)}")
        return i


# ---------------------------------------------------------------------------
# helpers


def _csr(groups: np.ndarray, values: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """CSR arrays from (group, value) pairs (sorted by group then value)."""
    order = np.lexsort((values, groups))
    g, v = groups[order], values[order]
    ptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(ptr, g + 1, 1)
    return np.cumsum(ptr), v.astype(np.int32)


def _expand(ptr: np.ndarray, idx: np.ndarray, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each row r in ``rows`` (positions), all idx[ptr[r]:ptr[r+1]].
    Returns (owner position in ``rows``, value)."""
    starts, ends = ptr[rows], ptr[rows + 1]
    lens = ends - starts
    owner = np.repeat(np.arange(len(rows)), lens)
    offs = np.arange(lens.sum()) - np.repeat(np.cumsum(lens) - lens, lens)
    return owner, idx[np.repeat(starts, lens) + offs]


# ---------------------------------------------------------------------------
# construction


def trivial_dimension(name: str, codes: np.ndarray) -> DimStructure:
    """A dimension without hierarchy: a grouping variable of the equations."""
    n = len(codes)
    ar = np.arange(n, dtype=np.int32)
    ptr = np.arange(n + 1, dtype=np.int64)
    return DimStructure(
        name=name, codes=codes, hierarchical=False, leaves=ar, leaf_pos=ar.copy(),
        clos_ptr=ptr, clos_idx=ar.copy(), lset_ptr=ptr.copy(), lset_idx=ar.copy(),
        move_ptr=ptr.copy(), move_sup=ar[:, None].copy(), move_sign=np.ones((n, 1), np.int8),
    )


def build_dimension(
    name: str,
    codes: np.ndarray,
    hierarchies: list[Hierarchy],
    *,
    small: int = 64,
) -> DimStructure:
    """Build the structure of dimension ``name``.

    ``codes``: the codes present in the table (sorted, unique). Small dimensions
    (at most ``small`` leaves) get every move precomputed; large ones get moves
    built per cell by the engine. Codes that appear in the edges but not in the table are
    *unpublished aggregates* if they have a published descendant (their
    equations are used through them) and known zeros otherwise.
    """
    if not hierarchies:
        return trivial_dimension(name, codes)
    # Edges over the universe of codes -------------------------------------------------
    frames = []
    for h in hierarchies:
        missing = {"parent", "child"} - set(h.edges.columns)
        if missing:
            raise HierarchyError(f"hierarchy {h.name or h.dimension!r}: edges lack columns {sorted(missing)}")
        frames.append(h.edges.select(pl.col("parent").cast(pl.String), pl.col("child").cast(pl.String)).drop_nulls())
    edges = pl.concat(frames).drop_nulls().unique()
    loops = edges.filter(pl.col("parent") == pl.col("child"))
    if loops.height:
        raise HierarchyError(f"dimension {name!r}: code is its own child: {loops['parent'].to_list()[:5]}")
    ep_s = edges["parent"].to_numpy().astype(str)
    ec_s = edges["child"].to_numpy().astype(str)
    universe = np.unique(np.concatenate([codes.astype(str), ep_s, ec_s]))
    nu = len(universe)
    ep = np.searchsorted(universe, ep_s)
    ec = np.searchsorted(universe, ec_s)
    present = np.zeros(nu, bool)
    present[np.searchsorted(universe, codes)] = True
    # Alive codes: published, or with a published descendant.
    alive = present.copy()
    while True:
        new = alive.copy()
        new[ep[alive[ec]]] = True
        if new.sum() == alive.sum():
            break
        alive = new
    keep = alive[ep] & alive[ec]
    ep, ec = ep[keep], ec[keep]
    # Cycle check (Kahn, by levels) and leaves.
    n_children = np.bincount(ep, minlength=nu)
    removed = ~alive
    remaining = n_children.copy()
    while True:
        free = ~removed & (remaining == 0)
        if not free.any():
            break
        removed |= free
        hit = free[ec]
        remaining -= np.bincount(ep[hit], minlength=nu)
    if not removed.all():
        cyc = universe[~removed][:5]
        raise HierarchyError(f"dimension {name!r}: the edges have a cycle through {list(cyc)}")
    is_leaf_u = alive & (n_children == 0)
    # Leaf sets by propagation (pairs code → leaf).
    leaf_u = np.flatnonzero(is_leaf_u)
    pairs = pl.DataFrame({"code": leaf_u, "leaf": leaf_u})
    e_df = pl.DataFrame({"parent": ep, "child": ec})
    for _ in range(nu + 1):
        up = e_df.join(pairs, left_on="child", right_on="code").select(pl.col("parent").alias("code"), "leaf")
        new = pl.concat([pairs, up]).unique()
        if new.height == pairs.height:
            break
        pairs = new
    # Every hierarchy must split a parent into the same leaves (otherwise two
    # decompositions meet only at an unpublished level, e.g. départements and
    # zones without their communes, and "parent = Σ leaves" would be false).
    h_id = np.concatenate([np.full(len(f), i) for i, f in enumerate(frames)]) if frames else np.zeros(0, int)
    hp = np.searchsorted(universe, np.concatenate([f["parent"].to_numpy().astype(str) for f in frames]))
    hc = np.searchsorted(universe, np.concatenate([f["child"].to_numpy().astype(str) for f in frames]))
    m = alive[hp] & alive[hc]
    e_all = pl.DataFrame({"h": h_id[m], "parent": hp[m], "child": hc[m]}).unique()
    per_h = e_all.join(pairs, left_on="child", right_on="code").select("h", "parent", "leaf").unique()
    full = pairs.group_by("code").agg(pl.len().alias("n_all"))
    cmp = per_h.group_by("h", "parent").agg(pl.len().alias("n_h")).join(full, left_on="parent", right_on="code")
    bad = cmp.filter(pl.col("n_h") != pl.col("n_all")).sort("parent", "h")
    if bad.height:
        row = bad.row(0, named=True)
        p_code = str(universe[row["parent"]])
        names = [hierarchies[i].name or f"#{i}" for i in sorted(bad.filter(pl.col("parent") == row["parent"])["h"].to_list())]
        raise HierarchyError(
            f"dimension {name!r}: {p_code!r} is not split into the same leaves by every hierarchy "
            f"(hierarchies {names} reach it from different codes). Two decompositions must meet at a level "
            "present in the table: include the finer level that links them (e.g. the communes), flagged "
            "`unpublished` if it is not exported, or drop one of the hierarchies."
        )
    # Restrict to published codes.
    pres_index = np.cumsum(present) - 1  # universe → position in ``codes``
    pc = pairs["code"].to_numpy()
    pl_ = pairs["leaf"].to_numpy()
    m = present[pc]
    pc, pl_ = pres_index[pc[m]], pres_index[pl_[m]]
    n = len(codes)
    leaves = np.flatnonzero(is_leaf_u[present]).astype(np.int32)  # code indices
    leaf_pos = np.full(n, -1, np.int32)
    leaf_pos[leaves] = np.arange(len(leaves), dtype=np.int32)
    clos_ptr, clos_idx = _csr(leaf_pos[pl_], pc, len(leaves))
    lset_ptr, lset_idx = _csr(pc, leaf_pos[pl_], n)
    # Closure of each leaf as a padded matrix, the leaf itself first.
    own, cd = _expand(clos_ptr, clos_idx, np.arange(len(leaves)))
    notself = (cd != leaves[own]).astype(np.int8)
    o = np.lexsort((cd, notself, own))
    own, cd = own[o], cd[o]
    cnt = np.bincount(own, minlength=len(leaves))
    W = int(cnt.max()) if len(cnt) else 1
    anc = np.full((len(leaves), W), -1, np.int32)
    anc[own, np.arange(len(own)) - np.repeat(np.cumsum(cnt) - cnt, cnt)] = cd
    # Neighbourhood groups of each leaf: leaves with the same closure (twins),
    # and the children of each of its direct parents (unpublished ones included).
    sig_key = pl.DataFrame({"leaf": np.arange(len(leaves))}).join(
        pl.DataFrame({"leaf": own[notself[o] == 1], "code": cd[notself[o] == 1]}).group_by("leaf").agg(pl.col("code").sort()),
        on="leaf", how="left",
    ).with_columns(pl.col("code").fill_null(pl.lit([], dtype=pl.List(pl.Int64)))).sort("leaf")
    sig_id = sig_key.select(pl.col("code").cast(pl.List(pl.String)).list.join(",").rank("dense").cast(pl.Int64) - 1).to_series().to_numpy()
    is_leaf_child = is_leaf_u[ec]
    # ... and all the leaves (partners anywhere, for lines too sparse locally).
    g_leaf = np.concatenate([np.arange(len(leaves)), leaf_pos[pres_index[ec[is_leaf_child]]], np.arange(len(leaves))])
    g_id = np.concatenate([sig_id, sig_id.max(initial=-1) + 1 + ep[is_leaf_child], np.full(len(leaves), sig_id.max(initial=-1) + 1 + nu)])
    grp_ptr, grp_idx = _csr(g_leaf.astype(np.int64), g_id.astype(np.int64), len(leaves))
    st = DimStructure(
        name=name, codes=codes, hierarchical=True, leaves=leaves, leaf_pos=leaf_pos,
        clos_ptr=clos_ptr, clos_idx=clos_idx, lset_ptr=lset_ptr, lset_idx=lset_idx,
        move_ptr=np.zeros(n + 1, np.int64), move_sup=np.zeros((0, 1), np.int32), move_sign=np.zeros((0, 1), np.int8),
        anc=anc, grp_ptr=grp_ptr, grp_idx=grp_idx.astype(np.int64),
    )
    if len(leaves) <= small:
        _build_moves(st)
    return st


def pair_supports(st: DimStructure, a: np.ndarray, b: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Supports and signs of the moves M(e_a − e_b) (leaf positions; b = −1 for
    none): closure(a) Δ closure(b), padded with −1, a's side +1 and first."""
    a = np.asarray(a, dtype=np.int64)
    b = np.asarray(b, dtype=np.int64)
    nl = len(st.leaves) + 1
    pk = a * nl + (b + 1)
    if len(pk) > 64:
        # pairs repeat a lot (same leaves on many lines): compute each once
        uk, inv = np.unique(pk, return_inverse=True)
        if len(uk) < len(pk):
            sup, sgn = pair_supports(st, uk // nl, uk % nl - 1)
            return sup[inv], sgn[inv]
    A = st.anc[a].astype(np.int64)
    Bm = np.where((b >= 0)[:, None], st.anc[np.maximum(b, 0)], -1).astype(np.int64)
    inB = (A[:, :, None] == Bm[:, None, :]).any(axis=2)
    inA = (Bm[:, :, None] == A[:, None, :]).any(axis=2)
    sa = np.where(inB, -1, A)
    sb = np.where(inA, -1, Bm)
    sup = np.concatenate([sa, sb], axis=1)
    sgn = np.concatenate([np.where(sa >= 0, 1, 0), np.where(sb >= 0, -1, 0)], axis=1).astype(np.int8)
    o = np.argsort(sup < 0, axis=1, kind="stable")
    sup = np.take_along_axis(sup, o, axis=1)
    sgn = np.take_along_axis(sgn, o, axis=1)
    w = max(1, int((sup >= 0).sum(axis=1).max(initial=1)))
    return sup[:, :w], sgn[:, :w]


def orient(sup: np.ndarray, sgn: np.ndarray, code: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Put ``code`` (one per row) first with sign +1. Returns (ok, sup, sgn);
    rows where the code is not in the support are not ok."""
    hit = sup == code[:, None]
    ok = hit.any(axis=1)
    pos = np.argmax(hit, axis=1)
    r = np.arange(len(sup))
    sup, sgn = sup.copy(), sgn.copy()
    flip = np.where(ok, sgn[r, pos], 1).astype(np.int8)
    sgn = sgn * flip[:, None]
    for arr in (sup, sgn):
        first = arr[:, 0].copy()
        arr[r, 0] = arr[r, pos]
        arr[r, pos] = first
    return ok, sup, sgn


def _build_moves(st: DimStructure) -> None:
    """Every move of a small dimension, per code, best first (small support,
    then codes): (a, b) and (a, None) for all leaves with the code in the support."""
    nl = len(st.leaves)
    n = st.n_codes
    a, b = np.meshgrid(np.arange(nl), np.arange(-1, nl), indexing="ij")
    off = a != b
    pa, pb = a[off].ravel(), b[off].ravel()
    sup, sgn = pair_supports(st, pa, pb)
    owners, sups, sgns, ranks = [], [], [], []
    for c in range(n):
        ok, s2, g2 = orient(sup, sgn, np.full(len(sup), c))
        owners.append(np.full(ok.sum(), c))
        sups.append(s2[ok])
        sgns.append(g2[ok])
    owner = np.concatenate(owners)
    sup = np.concatenate(sups)
    sgn = np.concatenate(sgns)
    size = (sup >= 0).sum(axis=1)
    seq = np.arange(len(owner))
    o = np.lexsort((seq, size, owner))
    ptr = np.zeros(n + 1, np.int64)
    np.add.at(ptr, owner + 1, 1)
    st.move_ptr = np.cumsum(ptr)
    st.move_sup = sup[o].astype(np.int32)
    st.move_sign = sgn[o]
