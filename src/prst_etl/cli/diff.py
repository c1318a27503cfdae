"""``prst diff-years``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from prst_etl.cli.common import AsOfOpt, WarehouseOpt, handle_errors
from prst_etl.console import err, fmt_int, grouped, out
from prst_etl.errors import UsageError


def _num(v: float | None, pct: bool = False) -> str:
    if v is None:
        return ""
    if pct:
        return f"{v:+.1f} %"
    if abs(v) >= 1000 or float(v).is_integer():
        return fmt_int(round(v))
    return f"{v:.2f}"


DIM_LABELS = {"risk_family": "risque", "cause_family": "cause", "size_band": "taille", "secteur_msa": "secteur MSA",
              "visit_type": "visite", "ctn": "CTN", "mp_tableau": "tableau", "mp_tableau_ra": "tableau RA",
              "mp_syndrome": "syndrome"}  # fmt: skip
"""Short French names of the source dimensions, for the terminal table."""


@handle_errors
def diff_years(
    year1: Annotated[int, typer.Argument(help="Première année.")],
    year2: Annotated[int, typer.Argument(help="Seconde année (la même, avec --from/--to, pour voir des révisions).")],
    level: Annotated[str, typer.Option("--level", "-l", help="Niveau géographique.")] = "region",
    indicator: Annotated[list[str] | None, typer.Option("--indicator", "-i", help="Indicateur(s) (défaut : tous).")] = None,
    sector_level: Annotated[list[str] | None, typer.Option("--sector-level", "-s", help="Niveau(x) NAF (défaut : a38, a21, ensemble).")] = None,
    top: Annotated[int, typer.Option("--top", "-n", help="Lignes affichées dans le terminal.")] = 20,
    fmt: Annotated[str, typer.Option("--format", "-f", help="table (terminal), csv ou parquet.")] = "table",
    output: Annotated[Path | None, typer.Option("--output", "-o", help="Fichier à écrire (toutes les lignes).")] = None,
    as_of: AsOfOpt = None,
    from_state: Annotated[str | None, typer.Option("--from", help="Révisions : état de départ (publication, chargement ou date).")] = None,
    to_state: Annotated[str | None, typer.Option("--to", help="Révisions : état d'arrivée.")] = None,
    secret: Annotated[
        bool, typer.Option("--secret/--no-secret", help="Secret statistique (défaut) ; --no-secret : usage interne.")
    ] = True,
    warehouse: WarehouseOpt = None,
) -> None:
    """Compare deux années : pour chaque indicateur et territoire, les deux valeurs, l'évolution
    absolue et relative, et si elle est significative (intervalles de confiance ; loi de Poisson
    pour les comptages). Les évolutions significatives les plus fortes d'abord.

    La colonne des signalements explique ce qui peut fausser la comparaison : rupture de série
    (indicateurs de fréquence 2020, DSN 2017-2018), changement de nomenclature ou de zonage,
    géographie communale modifiée, périmètre de SPSTI modifié, source absente une des années,
    valeur révisée.

    Avec la même année et --from/--to : ce qu'un fournisseur a révisé, case par case.

    Exemples :

      prst diff-years 2023 2024

      prst diff-years 2023 2024 --level departement --indicator at_if --format csv -o evolution.csv

      prst diff-years 2023 2023 --from diagnostic-2025 --to observatoire-2026-T2
    """
    import polars as pl

    from prst_etl.pipeline import diff as core  # imported here: « prst ingest » need not load it
    from prst_etl.model.facts import BASE_COLUMNS
    from prst_etl.pipeline.write import write_frame

    if fmt not in ("table", "csv", "parquet"):
        raise UsageError(f"Format inconnu : « {fmt} ».", hint="Formats : table, csv, parquet.")
    df, notes = core.diff(
        year1, year2, warehouse=warehouse, level=level, indicators=indicator or None,
        sector_levels=sector_level or None, as_of=as_of, from_state=from_state, to_state=to_state, secret=secret,
    )  # fmt: skip
    for n in grouped(notes):
        err.print(f"[yellow]Remarque[/yellow] : {n}")
    if output is not None or fmt != "table":
        path = output or Path(f"diff_{level}_{year1}_{year2}.{ 'csv' if fmt == 'table' else fmt}")
        if not secret:
            from prst_etl.pipeline.write import restricted_name

            path = restricted_name(path)
        write_frame(df, path, "csv" if path.suffix == ".csv" or fmt == "csv" else "parquet")
        out.print(f"{fmt_int(df.height)} lignes écrites dans [bold]{path}[/bold].")
    revision = from_state is not None
    sig = df.filter(pl.col("significant").fill_null(False)).height
    title = (
        f"Révisions {year1} : « {from_state} » → « {to_state} » ({fmt_int(df.height)} cases modifiées)"
        if revision
        else f"{year1} → {year2}, niveau {level} : {fmt_int(df.height)} lignes, {fmt_int(sig)} évolutions significatives"
    )
    t = Table(title=title, title_justify="left")
    extras = [c for c in df.columns if c not in BASE_COLUMNS and c in ("ctn", "risk_family", "cause_family", "size_band", "visit_type", "secteur_msa", "mp_tableau")]
    extras += [c for c in df.columns[: df.columns.index("indicator")] if c not in BASE_COLUMNS and c not in extras]
    # one "Case" column (territory, then what is not a total) keeps the table readable in 80 columns
    t.add_column("Case", overflow="fold", ratio=3)
    t.add_column("Indicateur", overflow="fold", ratio=2)
    for c in (str(year1), str(year2), "Évolution"):
        t.add_column(c, justify="right", no_wrap=True)
    t.add_column("Signif.", no_wrap=True)
    # the terminal shows what moved: rows equal to zero both years stay in the file only
    shown = df.filter(~((pl.col("value_1") == 0) & (pl.col("value_2") == 0)).fill_null(False)).head(top)
    flags = shown["flags"].fill_null("").str.len_chars().sum() > 0
    if flags:
        t.add_column("Signalements", overflow="fold", ratio=2)
    for r in shown.iter_rows(named=True):
        parts = [r["geo_label"] or r["geo_code"]]
        if r["sector_code"] != "_T":
            parts.append(r["sector_label"] or r["sector_code"])
        parts += [f"{lab} {r[c]}" for c, lab in (("sex", "sexe"), ("age_band", "âge")) if r.get(c) not in (None, "_T")]
        parts += [f"{DIM_LABELS.get(d, d)} {r[d]}" for d in extras if r.get(d) not in (None, "_T")]
        t.add_row(
            " · ".join(parts), r["indicator"],
            _num(r["value_1"]) or (r["status_1"] or "—"), _num(r["value_2"]) or (r["status_2"] or "—"),
            _num(r["change_pct"], pct=True) or _num(r["change"]),
            "" if r["significant"] is None else ("oui" if r["significant"] else "non"),
            *([r["flags"] or ""] if flags else []),
        )  # fmt: skip
    out.print(t)
