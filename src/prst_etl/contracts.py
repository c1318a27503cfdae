"""Checked-in snapshots of the table contracts (``schemas/contracts/*.json``).

Each fact table of each source and the export table have a contract: their
columns, types and meaning. The snapshot carries a version and a content hash;
a test fails when the code's contract drifts from the snapshot, and
``python -m prst_etl.contracts --write`` updates it (bump the version only when
the hash changes, and say it in CHANGELOG.md under « Schema »).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path
from typing import Any

from prst_etl.model.facts import KEY_COLUMNS, STATUS_SUFFIX
from prst_etl.resources import data_dir

KEY_DOC = {
    "year": ("int32", "année de référence des données"),
    "geo_level": ("string", "niveau géographique : commune, zone-emploi, departement, region, france"),
    "geo_code": ("string", "code géographique (COG 2025 pour les communes ; FR pour la France)"),
    "sector_level": ("string", "niveau sectoriel : naf732 (sous-classe), …, a38, a21, a17, a10, ensemble"),
    "sector_code": ("string", "code du secteur au niveau donné ; _T tous secteurs ; _U inconnu"),
    "sex": ("string", "F, M ou _T (les deux sexes)"),
    "age_band": ("string", "tranche d'âge codée avec ses bornes (Y_LT20, Y20T29, Y_GE60) ou _T"),
}


def fact_contract(source_id: str, table: Any) -> dict[str, Any]:
    cols = [{"name": "load_id", "type": "int32", "doc": "chargement qui a produit la ligne"}]
    cols += [{"name": k, "type": KEY_DOC[k][0], "doc": KEY_DOC[k][1]} for k in KEY_COLUMNS]
    cols += [{"name": d, "type": "string", "doc": "dimension propre à la source"} for d in table.extra_dims]
    for m in table.measures:
        cols.append({"name": m.id, "type": "float64", "doc": f"{m.label} ({m.unit}) ; vide si un signe conventionnel l'indique"})
        cols.append({"name": m.id + STATUS_SUFFIX, "type": "string (facultative)", "doc": "signe conventionnel : s, nd, ///, -"})
    pivots = [{"dimension": p.dimension, "measure": p.measure, "columns": {c: code for c, code, _ in p.columns}} for p in table.pivots]
    return {"table": f"{source_id}/{table.name}", "kind": "facts", "columns": cols, "pivots": pivots}


def export_contract() -> dict[str, Any]:
    from prst_etl.model.facts import BASE_COLUMNS, TAIL_COLUMNS

    doc = {
        "geo_label": "libellé du territoire",
        "sector_label": "libellé du secteur",
        "indicator": "identifiant de l'indicateur (comptage ou taux du catalogue)",
        "value": "valeur ; vide quand le statut l'indique",
        "status": "vide, ou signe : s (secret), nd (non disponible), /// (sans objet), - (résultat nul), p (provisoire), ns (non significatif)",
        "ci_low": "borne basse de l'intervalle de confiance à 95 % (taux)",
        "ci_high": "borne haute de l'intervalle de confiance à 95 % (taux)",
        "coverage": "complet, ou « partiel : k/n départements » du territoire couverts par les sources",
        "sources": "source(s) des données, jointes par « + »",
    }
    cols = [{"name": c, "type": KEY_DOC.get(c, ("string", ""))[0], "doc": KEY_DOC.get(c, ("", doc.get(c, "")))[1]} for c in BASE_COLUMNS]
    cols.append({"name": "<dimensions des sources>", "type": "string", "doc": "ctn, risk_family… ; _T quand non ventilé"})
    cols += [{"name": c, "type": {"year": "int32", "value": "float64", "ci_low": "float64", "ci_high": "float64"}.get(c, "string"), "doc": doc.get(c, KEY_DOC.get(c, ("", ""))[1])} for c in TAIL_COLUMNS]
    return {"table": "export", "kind": "export", "columns": cols}


def contracts() -> dict[str, dict[str, Any]]:
    from prst_etl.sources import all_sources

    out = {"export": export_contract()}
    for sid, cls in all_sources().items():
        for t in cls.tables:
            out[f"facts-{sid}-{t.name}"] = fact_contract(sid, t)
    for c in out.values():
        body = json.dumps({k: v for k, v in c.items() if k not in {"version", "hash"}}, sort_keys=True, ensure_ascii=False)
        c["hash"] = hashlib.sha256(body.encode()).hexdigest()[:16]
    return out


def folder() -> Path:
    return data_dir("schemas") / "contracts"


def drift() -> dict[str, str]:
    """Contracts whose snapshot is missing or differs from the code (name → reason)."""
    out = {}
    for name, c in contracts().items():
        p = folder() / f"{name}.json"
        if not p.exists():
            out[name] = "missing"
            continue
        snap = json.loads(p.read_text(encoding="utf-8"))
        if snap.get("hash") != c["hash"]:
            out[name] = f"hash {snap.get('hash')} != {c['hash']}"
    return out


def write() -> list[str]:
    folder().mkdir(parents=True, exist_ok=True)
    changed = []
    for name, c in contracts().items():
        p = folder() / f"{name}.json"
        old = json.loads(p.read_text(encoding="utf-8")) if p.exists() else {}
        version = old.get("version", 0) + (1 if old.get("hash") != c["hash"] else 0)
        c = {"version": version, **c}
        if old != c:
            p.write_text(json.dumps(c, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
            changed.append(name)
    return changed


if __name__ == "__main__":
    if "--write" in sys.argv:
        print("updated:", ", ".join(write()) or "nothing")
    else:
        d = drift()
        print("\n".join(f"{k}: {v}" for k, v in d.items()) or "contracts up to date")
        sys.exit(1 if d else 0)
