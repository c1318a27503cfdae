"""The Frictionless Data Package (v2) of a published release: ``datapackage.json``.

One resource per Parquet file (``data/geo_level=<level>/year=<year>/part-0.parquet``), each with
its Table Schema: fields, types, descriptions, the primary key within the file, missing values,
the statuses allowed; and the resource ``indicateurs`` (the catalogue: labels, units,
definitions). ``geo_level`` and ``year`` are not in the files: they are Hive partitions, given
by the path (``prst:partition`` of each resource), as Spark, Trino, DuckDB, Arrow and polars read
them. The SHA-256 of each file is its ``hash``; its size is in ``manifest.json`` (frictionless-py
cannot count the bytes of a Parquet file, so a ``bytes`` property would fail its validation).
"""

from __future__ import annotations

import re
from typing import Any

from prst_etl.model.codes import HIDDEN, STATUSES

PACKAGE_PROFILE = "https://datapackage.org/profiles/2.0/datapackage.json"
RESOURCE_PROFILE = "https://datapackage.org/profiles/2.0/dataresource.json"
NS = "ns"
"""Status of a rate below its indicator's minimum denominator (non significatif)."""

LICENCES: dict[str, dict[str, str]] = {
    "etalab-2.0": {"name": "etalab-2.0", "title": "Licence Ouverte / Open Licence version 2.0",
                   "path": "https://www.etalab.gouv.fr/licence-ouverte-open-licence/"},
    "odbl-1.0": {"name": "ODbL-1.0", "title": "Open Data Commons Open Database License 1.0",
                 "path": "https://opendatacommons.org/licenses/odbl/1-0/"},
    "cc-by-4.0": {"name": "CC-BY-4.0", "title": "Creative Commons Attribution 4.0",
                  "path": "https://creativecommons.org/licenses/by/4.0/"},
}  # fmt: skip
"""Licences ``prst publish --licence`` knows (Licence Ouverte 2.0 by default: that of the public
statistics the release is built from)."""

FIELD_DOCS: dict[str, str] = {
    "geo_code": "Code du territoire (COG 2025 pour communes, départements, régions ; ZE2020 ; SPSTI)",
    "geo_label": "Libellé du territoire",
    "sector_level": "Niveau de la NAF rév. 2 (a38, a21…), « ensemble » pour tous secteurs",
    "sector_code": "Code du secteur à ce niveau, « _T » pour tous secteurs",
    "sector_label": "Libellé du secteur",
    "sex": "Sexe : F, M ; « _T » les deux",
    "age_band": "Tranche d'âge codée par ses bornes (Y_LT20, Y20T29… Y_GE60) ; « _T » tous âges",
    "indicator": "Identifiant de l'indicateur (ressource « indicateurs » : libellé, unité, définition)",
    "value": "Valeur : comptage additif, ou taux calculé comme rapport des sommes ; vide si la case est cachée ou sans valeur",
    "status": "Statut de la case : vide (valeur présente), secret, secret-secondaire (secret statistique), ns (non "
    "significatif), s, nd, ///, -, p (signes de la source)",
    "ci_low": "Borne basse de l'intervalle de confiance à 95 % (taux ; comptages d'événements)",
    "ci_high": "Borne haute de l'intervalle de confiance à 95 %",
    "coverage": "Couverture du territoire par les sources : « complet » ou « partiel : k/n départements »",
    "sources": "Sources des chiffres (identifiants prst, « + » quand plusieurs sources d'une série sont additionnées)",
}
DIM_DOCS = {
    "ctn": "Comité technique national (CTN) de l'Assurance Maladie, « _T » tous",
    "risk_family": "Famille de risque de l'accident du travail (« non-code » : sans cause codée), « _T » toutes",
    "cause_family": "Famille de cause de la maladie professionnelle (tms, cancers, psy…), « _T » toutes",
    "size_band": "Tranche d'effectif de l'établissement ou de l'entreprise (E0, E1T9… E_GE250), « _T » toutes",
}


def slug(text: str) -> str:
    """A Data Package name: lower case letters, digits, ``-``, ``_``, ``.``."""
    return re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-") or "prst"


def table_schema(columns: list[tuple[str, str]], key: list[str], statuses: list[str] | None = None) -> dict[str, Any]:
    """A Table Schema for columns ``(name, frictionless type)``."""
    allowed = statuses or sorted({*STATUSES, *HIDDEN, NS})
    fields = []
    for name, kind in columns:
        f: dict[str, Any] = {"name": name, "type": kind}
        doc = FIELD_DOCS.get(name) or DIM_DOCS.get(name) or f"Dimension propre à certaines sources ({name}), « _T » pour le total"
        f["description"] = doc
        if name in key:
            f["constraints"] = {"required": True}
        if name == "status":
            f["constraints"] = {"enum": allowed}
        fields.append(f)
    return {"fields": fields, "primaryKey": key, "missingValues": [""]}


def descriptor(
    *,
    release: dict[str, Any],
    files: list[dict[str, Any]],
    columns: list[tuple[str, str]],
    key: list[str],
    providers: list[str],
    licence: str,
    indicators_path: str,
    indicator_columns: list[tuple[str, str]],
    n_indicators: int,
) -> dict[str, Any]:
    """The ``datapackage.json`` of a release (deterministic: same release, same text)."""
    schema = table_schema(columns, key)
    resources = [
        {
            "$schema": RESOURCE_PROFILE,
            "name": slug(f"{f['geo_level']}-{f['year']}"),
            "type": "table",
            "title": f"Niveau « {f['geo_level']} », année {f['year']}",
            "description": f"geo_level = « {f['geo_level']} » et year = {f['year']} sont donnés par le chemin (partitions Hive).",
            "path": f["path"],
            "format": "parquet",
            "mediatype": "application/vnd.apache.parquet",
            "hash": f"sha256:{f['sha256']}",
            "rows": f["rows"],
            "prst:partition": {"geo_level": f["geo_level"], "year": f["year"]},
            "schema": schema,
        }
        for f in files
    ]
    resources.append(
        {
            "$schema": RESOURCE_PROFILE,
            "name": "indicateurs",
            "type": "table",
            "title": "Catalogue des indicateurs",
            "path": indicators_path,
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8",
            "rows": n_indicators,
            "schema": {
                "fields": [{"name": n, "type": t} for n, t in indicator_columns],
                "primaryKey": ["indicator"],
                "missingValues": [""],
            },
        }
    )
    return {
        "$schema": PACKAGE_PROFILE,
        "name": slug(f"prst-{release['name']}"),
        "title": f"Indicateurs santé-travail du PRST Occitanie — publication « {release['name']} »",
        "description": (
            "Comptages et taux des indicateurs de l'observatoire régional santé-travail, secret statistique appliqué, "
            "en format long, un fichier Parquet par niveau géographique et par année (partitions Hive geo_level=…/year=…). "
            + (f"Note de la publication : {release['note']}" if release.get("note") else "")
        ).strip(),
        "created": release["created_at"],
        "licenses": [LICENCES[licence]],
        "sources": [{"title": p} for p in providers],
        "keywords": ["santé au travail", "accidents du travail", "maladies professionnelles", "Occitanie", "PRST"],
        "prst:release": release["name"],
        "resources": resources,
    }
