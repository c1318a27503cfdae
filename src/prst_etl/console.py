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

PIPE_WIDTH = 1000
"""Width of the output when it is not a terminal (a pipe, a log, a script): wide enough that no
table or message is wrapped at 80 columns; a terminal keeps its own width (or ``COLUMNS``)."""


def _console(**kw: object) -> Console:
    c = Console(highlight=False, **kw)  # type: ignore[arg-type]
    if not c.is_terminal and not os.environ.get("COLUMNS"):
        c.width = PIPE_WIDTH
    return c


out = _console(soft_wrap=False)
err = _console(stderr=True)

MAX_ISSUES_SHOWN = 100


def fmt_int(n: int | float | None) -> str:
    """French thousands separator (narrow no-break space)."""
    if n is None:
        return ""
    return f"{int(n):,}".replace(",", "\u202f")


def fmt_num(x: float | None) -> str:
    """A count as people read it: thousands separated, decimals only when there are some."""
    if x is None:
        return ""
    if float(x).is_integer():
        return fmt_int(x)
    return f"{x:,.2f}".replace(",", "\u202f").replace(".", ",")


def grouped(notes: list[str]) -> list[str]:
    """Notes said once each, in their first order, with how many times they came (« (×3) »)."""
    counts = Counter(notes)
    return [n + (f" (×{counts[n]})" if counts[n] > 1 else "") for n in dict.fromkeys(notes)]


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
    if report.accounting:
        render_ledger(report.accounting, c)
    if report.moves:
        render_moves(report.moves, c)
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


def render_ledger(flows: list[dict], c: Console | None = None) -> None:  # type: ignore[type-arg]
    """Per measure: the sum read from the file, what was set aside and why, the sum stored."""
    c = c or out
    t = Table(title="Comptes par mesure : lu dans le fichier = stocké + mis de côté", title_justify="left")
    several = len({f["table"] for f in flows}) > 1
    for col in ("Table",) * several + ("Mesure", "Lu", "Mis de côté", "Pourquoi", "Stocké"):
        t.add_column(col, overflow="fold", justify="right" if col in ("Lu", "Mis de côté", "Stocké") else "left")
    for f in flows:
        aside = sum(f["set_aside"].values())
        why = " ; ".join(f"{r} : {fmt_num(v)}" for r, v in f["set_aside"].items()) if len(f["set_aside"]) > 1 else "".join(f["set_aside"])
        if f.get("derived"):
            why = (why + " ; " if why else "") + f"calculé : {f['derived']}"
        t.add_row(*((f["table"],) if several else ()), f["measure"], fmt_num(f["read"]), fmt_num(aside) if aside else "",
                  why, fmt_num(f["stored"]))  # fmt: skip
    c.print(t)


def render_moves(moves: list[dict], c: Console | None = None) -> None:  # type: ignore[type-arg]
    """Rows of old commune codes counted in another zone d'emploi than their old commune's."""
    c = c or out
    t = Table(
        title="Communes fusionnées : lignes comptées dans la zone d'emploi du chef-lieu de la commune nouvelle",
        title_justify="left",
    )
    for col in ("Table", "Ancien code", "Commune nouvelle", "Zone de l'ancienne commune", "Zone comptée", "Lignes", "Comptages déplacés"):
        t.add_column(col, overflow="fold")
    for m in moves:
        counts = ", ".join(f"{k} {fmt_num(v)}" for k, v in m.get("counts", {}).items())
        t.add_row(m.get("table", ""), m["old_code"], m["new_code"], m.get("old_zone") or "", m.get("new_zone") or "",
                  fmt_int(m["rows"]), counts)  # fmt: skip
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
