"""Terminal output: one place where reports, tables and errors are rendered (French)."""

from __future__ import annotations

import os
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager

from rich.console import Console
from rich.panel import Panel
from rich.progress import BarColumn, Progress, SpinnerColumn, TextColumn, TimeElapsedColumn
from rich.table import Table

from prst_etl.errors import ISSUE_TYPES, PrstError
from prst_etl.report import Report

out = Console(highlight=False, soft_wrap=False)
err = Console(stderr=True, highlight=False)

MAX_ISSUES_SHOWN = 100


def fmt_int(n: int | float | None) -> str:
    """French thousands separator (narrow no-break space)."""
    if n is None:
        return ""
    return f"{int(n):,}".replace(",", "\u202f")


def render_error(exc: PrstError) -> None:
    """A red panel in a terminal; plain lines in logs and pipes (one message, then the hint)."""
    if err.is_terminal:
        body = exc.message + (f"\n\n[dim]{exc.hint}[/dim]" if exc.hint else "")
        err.print(Panel(body, title="Erreur", title_align="left", border_style="red", expand=False))
    else:
        err.print(f"Erreur : {exc.message}", markup=False, soft_wrap=True)
        if exc.hint:
            err.print(exc.hint, markup=False, soft_wrap=True)


def render_report(report: Report, console: Console | None = None) -> None:
    c = console or out
    st = report.stats
    where = f"feuille « {report.sheet} », " if report.sheet else ""
    where += f"en-tête ligne {report.header_row}" if report.header_row else ""
    c.print(f"[bold]{report.file}[/bold] — source [bold]{report.source_id}[/bold]" + (f" ({where})" if where else ""))
    if st.rows_read:
        line = (
            f"Lignes lues : {fmt_int(st.rows_read)} ; retenues : {fmt_int(st.rows_kept)}"
            f" ; ignorées : {fmt_int(st.rows_skipped)} ; rejetées : {fmt_int(st.rows_rejected)}"
        )
        if st.rows_merged:
            line += f" (dont {fmt_int(st.rows_merged)} ajoutées à une autre ligne : anciens codes de communes fusionnées)"
        c.print(line)
        for why, n in st.skipped_detail.items():
            c.print(f"  ignorées — {why} : {fmt_int(n)}")
    if report.years:
        c.print("Année de référence : " + ", ".join(map(str, report.years)))
    if report.issues:
        _issues_table(report, c)
    if report.plan:
        render_plan(report.plan, c)
    if report.outcome == "rejected":
        c.print(
            f"[red bold]Fichier refusé[/red bold] : {fmt_int(len(report.errors))} erreur(s)"
            + (f", {fmt_int(len(report.warnings))} avertissement(s)" if report.warnings else "")
            + ". Rien n'a été écrit dans l'entrepôt."
        )
    elif report.outcome == "dry-run":
        c.print(
            "[green bold]Fichier valide[/green bold] (vérification seule, --dry-run) : "
            + ", ".join(f"{t} : {fmt_int(n)} cases" for t, n in report.tables.items())
            + ". Rien n'a été écrit."
        )
    elif report.outcome == "cancelled":
        c.print("[yellow]Remplacement non appliqué[/yellow] : rien n'a été écrit.")
    elif report.outcome == "unchanged":
        c.print(
            f"[yellow]Ce fichier est déjà chargé[/yellow] (chargement n° {report.load_id}, identique octet pour octet) : "
            "rien à faire."
        )
    elif report.outcome == "loaded":
        msg = f"[green bold]Chargement n° {report.load_id} enregistré[/green bold] : " + ", ".join(
            f"{t} : {fmt_int(n)} cases" for t, n in report.tables.items()
        )
        c.print(msg + ".")
        if report.supersedes:
            c.print(
                "Il remplace pour les lectures courantes le(s) chargement(s) n° "
                + ", ".join(map(str, report.supersedes))
                + " (même source et même année), qui reste(nt) dans l'historique (prst loads)."
            )


def render_plan(plan: list[dict], c: Console | None = None) -> None:  # type: ignore[type-arg]
    """What a corrected file changes compared with the load it replaces."""
    c = c or out
    t = Table(title="Ce que ce fichier change par rapport au chargement qu'il remplace", title_justify="left")
    for col in ("Table", "Année", "Niveau", "Mesure", "Cases ajoutées", "supprimées", "modifiées", "Total avant", "Total après"):
        t.add_column(col, overflow="fold")
    for p in plan:
        t.add_row(
            str(p["table"]), str(p["year"]), str(p["level"]), str(p["measure"]), fmt_int(p["added"]), fmt_int(p["removed"]),
            fmt_int(p["changed"]), fmt_int(p["total_before"]), fmt_int(p["total_after"]),
        )  # fmt: skip
    c.print(t)


def _issues_table(report: Report, c: Console) -> None:
    counts = Counter(i.code for i in report.issues)
    t = Table(title="Problèmes trouvés", show_lines=False, title_justify="left")
    several = len({i.sheet for i in report.issues if i.sheet}) > 1  # a workbook read sheet by sheet
    for col in ("Feuille",) * several + ("Ligne", "Colonne", "Valeur", "Règle", "Message"):
        t.add_column(col, overflow="fold")
    for i in report.issues[:MAX_ISSUES_SHOWN]:
        sev = "" if i.severity == "error" else " [yellow](avertissement)[/yellow]"
        t.add_row(
            *((i.sheet or "",) if several else ()),
            "" if i.row is None else str(i.row),
            i.column or "",
            i.value or "",
            f"{i.code}{sev}",
            i.message,
        )
    c.print(t)
    if len(report.issues) > MAX_ISSUES_SHOWN:
        c.print(
            f"… et {fmt_int(len(report.issues) - MAX_ISSUES_SHOWN)} autres. Liste complète : --report FICHIER.csv ou --json."
        )
    summary = ", ".join(f"{ISSUE_TYPES[k].title} ({k}) : {fmt_int(n)}" for k, n in counts.most_common())
    c.print(f"Par règle — {summary}")


@contextmanager
def progress_steps(enabled: bool = True) -> Iterator:
    """A spinner on stderr naming the current step (hidden when not a terminal)."""
    if not enabled or not err.is_terminal or os.environ.get("PRST_NO_PROGRESS"):
        yield lambda _msg: None
        return
    with Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=None) if False else TextColumn(""),
        TimeElapsedColumn(),
        console=err,
        transient=True,
    ) as p:
        task = p.add_task("…", total=None)
        yield lambda msg: p.update(task, description=msg)
