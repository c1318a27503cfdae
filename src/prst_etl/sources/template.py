"""``prst sources template``: an empty workbook a provider can fill, for any tabular source.

The workbook has two sheets:

* « Lisez-moi »: what the source is, how to fill the table (reference year, empty
  cells, conventional signs, how to check the file before sending it) and one row
  per column: header, required or not, content, accepted values, other accepted
  headers; then the optional columns the mapping also accepts;
* the data sheet: a title row (with the reference year when the layout reads it
  from the title), a note, and on row 4 the header of the latest mapping version
  (or ``--mapping``). Closed code lists (sexes, SPSTI, NAF sections, départements,
  CTN) get a drop-down list that warns, without refusing, on another spelling.

What goes into the data sheet: the required columns, the label columns (names the
provider may keep beside codes) and the first of the alternative geography
columns; a mapping can list its own with the option ``template_columns``. The
sheet name and title come from the mapping options ``template_sheet`` and
``template_title`` (``{year}`` is replaced), else from the source's title.

Written with ``xlsxwriter``; a row of this sheet never holds two accepted headers,
so the header search of ``ingest`` cannot mistake « Lisez-moi » for the table.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path

from prst_etl.reference import geography
from prst_etl import reference
from prst_etl.model.codes import STATUS_LABELS
from prst_etl.errors import PrstError, UsageError
from prst_etl.sources.mapping import ColumnSpec, Mapping, get_mapping
from prst_etl.sources.base import Source

HEADER_ROW = 4
"""Excel row of the header in the data sheet (title on row 1, note on row 2)."""
README_SHEET = "Lisez-moi"
MAX_LIST_CHARS = 250
"""Excel limits an inline drop-down list to 255 characters."""

ROLE_TEXT = {
    "measure": "comptage",
    "dimension": "identifiant",
    "geo": "géographie",
    "label": "libellé (facultatif, ignoré par prst)",
    "check": "contrôle (non stocké)",
}


@dataclass
class ColumnDoc:
    header: str
    required: str
    content: str
    accepted: str
    other_headers: str
    choices: list[str] | None = None
    """Closed list of codes (drop-down list in the data sheet)."""


def default_year() -> int:
    """The year an annual update usually concerns: last year."""
    return date.today().year - 1


def has_year_column(mapping: Mapping) -> bool:
    return any(c.kind == "year" for c in mapping.columns)


def template_columns(mapping: Mapping) -> list[ColumnSpec]:
    """Columns written in the data sheet (see the module docstring)."""
    wanted = mapping.options.get("template_columns")
    if wanted:
        by_name = {c.name: c for c in mapping.columns}
        unknown = [n for n in wanted if n not in by_name]
        if unknown:
            raise PrstError(f"Mapping {mapping.id} : template_columns nomme des colonnes inconnues : {', '.join(unknown)}.")
        return [by_name[n] for n in wanted]
    out: list[ColumnSpec] = []
    geo_seen = any(c.role == "geo" and c.required for c in mapping.columns)
    for c in mapping.columns:
        if "*" in c.headers[0]:
            continue  # a header pattern, not a header a provider can write
        if c.required or c.role == "label":
            out.append(c)
        elif c.role == "geo" and not geo_seen:  # alternatives (commune or département): the first one
            out.append(c)
            geo_seen = True
    # the geography comes first, as the layouts say (« a geography column before CTN »), with its label
    geo = [c for c in out if c.role == "geo"]
    if not geo:
        return out
    geo_labels = [c for c in out if c.role == "label" and c.name == "libelle_geo"]
    return geo + geo_labels + [c for c in out if c not in geo and c not in geo_labels]


def describe(source: Source, mapping: Mapping, c: ColumnSpec) -> ColumnDoc:
    """What a provider needs to know about one column."""
    measures = {m.id: m for t in source.tables for m in t.measures}
    content = c.label or (measures[c.measure].label if c.measure in measures else "")
    choices: list[str] | None = None
    signs = ", ".join(STATUS_LABELS)
    if c.role == "measure":
        number = "nombre entier ≥ 0" if c.integer else "nombre ≥ 0"
        accepted = f"{number} ; ou signe conventionnel ({signs.replace(', p', '')})"
        accepted += " ; case vide = 0" if mapping.empty_means_zero else " ; case vide refusée"
    elif c.kind == "sex":
        choices = ["F", "M"]
        accepted = "F ou M (aussi H/F, Hommes/Femmes, 1/2)"
    elif c.kind == "age_band":
        accepted = "tranche avec ses bornes : « Moins de 30 ans », « 30 à 39 ans », « 60 ans et plus » (ou Y_LT30, Y30T39, Y_GE60)"
    elif c.kind == "year":
        accepted = "année sur quatre chiffres (ex. 2024) ; plusieurs années possibles dans le fichier"
    elif c.kind == "spsti":
        choices = reference.spsti()["code"].to_list()
        accepted = "code de la liste des SPSTI d'Occitanie (voir plus bas)"
    elif c.kind == "a21":
        choices = sorted(reference.naf()["a21"].unique().to_list()) + ["Non renseigné"]
        accepted = "section NAF rév. 2 : A … U (ou « C - Industrie manufacturière »), « Non renseigné » si inconnue"
    elif c.kind == "departement":
        choices = list(source.scope or geography.DEPARTEMENTS_OCCITANIE)
        accepted = "code du département : " + " ".join(choices)
    elif c.kind == "commune":
        accepted = "code commune du COG sur 5 caractères (ex. 31555) ; un ancien code de commune fusionnée est accepté"
    elif c.kind == "ctn":
        choices = reference.ctn()["code"].to_list()[:9]
        accepted = "CTN : AA, BB … II (ou A … I)"
    elif c.kind == "naf":
        accepted = "sous-classe NAF rév. 2 (ex. 0111Z ou 01.11Z ; xxxxx si inconnue)"
    elif c.kind == "rate":
        accepted = "pourcentage (ex. 4,2) ; contrôlé par prst, non stocké"
    else:
        accepted = "texte libre" if c.role == "label" else ""
    if choices is not None and len(", ".join(choices)) > MAX_LIST_CHARS:
        choices = None
    return ColumnDoc(
        header=c.headers[0],
        required="oui" if c.required else "non",
        content=content or ROLE_TEXT.get(c.role, ""),
        accepted=accepted,
        other_headers=" ; ".join(f"« {h} »" for h in c.headers[1:] if "*" not in h),
        choices=choices,
    )


LAYOUT_ORDER = ("", "at", "trajet", "mp")
"""Order of the data sheets of a multi-sheet template (the order of the Assurance Maladie files)."""


def template_mappings(source: Source, mapping_version: str | None = None, sheet: str | None = None) -> list[Mapping]:
    """The mapping of each data sheet of the template: one per table layout of the source (the AT, Trajet
    and MP sheets of a Carsat workbook), the latest of each; ``sheet`` keeps one layout (``at``, ``trajet``,
    ``mp``), ``mapping_version`` a version or a mapping name (``mp-2024``)."""
    maps = [m for m in source.mappings() if m.chosen_by(mapping_version)]
    if not maps:
        from prst_etl.errors import UnknownName

        raise UnknownName("version de mapping", mapping_version or "", [m.name for m in source.mappings()])
    latest: dict[str, Mapping] = {}
    for m in maps:  # oldest first: the last one of each layout wins
        latest[m.layout] = m
    if sheet is not None:
        names = {(layout or getattr(source, "default_layout", "") or "donnees"): m for layout, m in latest.items()}
        key = sheet.strip().lower()
        if key not in names:
            raise UsageError(
                f"Feuille de modèle inconnue pour « {source.id} » : « {sheet} ».",
                hint="Feuilles possibles : " + ", ".join(sorted(names)),
            )
        return [names[key]]
    order = {layout: i for i, layout in enumerate(LAYOUT_ORDER)}
    return sorted(latest.values(), key=lambda m: (order.get(m.layout, len(order)), m.layout))


def write_template(
    source: Source,
    path: Path | str,
    *,
    year: int | None = None,
    mapping_version: str | None = None,
    overwrite: bool = False,
    sheet: str | None = None,
) -> Path:
    """Write the empty workbook of ``source``: a « Lisez-moi » sheet and one data sheet per table
    layout (latest mapping of each, or ``mapping_version``; only ``sheet`` if given)."""
    from prst_etl.sources.tabular import TabularSource

    if not isinstance(source, TabularSource):
        raise UsageError(f"La source « {source.id} » ne lit pas un tableau décrit par un mapping : pas de modèle.")
    if not source.template_supported:
        raise UsageError(
            f"Pas de modèle pour « {source.id} » : ce fichier est publié tel quel par son producteur et se charge sans être rempli.",
            hint=f"Le format attendu est décrit par « prst sources show {source.id} ».",
        )
    path = Path(path)
    if path.suffix.lower() != ".xlsx":
        raise UsageError(f"Le modèle est un classeur Excel : donnez un nom en .xlsx (reçu : « {path.name} »).")
    if path.exists() and not path.is_file():
        raise UsageError(f"« {path} » n'est pas un fichier ordinaire : --output doit nommer le classeur à écrire.")
    if path.exists() and not overwrite:
        raise UsageError(f"Le fichier « {path} » existe déjà.", hint="Choisissez un autre nom avec --output, ou ajoutez --force.")
    if not source.mappings():
        raise PrstError(f"La source « {source.id} » n'a aucun mapping.")
    year = default_year() if year is None else year
    sheets = []
    for m in template_mappings(source, mapping_version, sheet):
        mapping = source.template_mapping(m, year)
        columns = template_columns(mapping)
        docs = [describe(source, mapping, c) for c in columns]
        name = str(mapping.options.get("template_sheet") or "Données").format(year=year)
        if has_year_column(mapping):
            title = str(mapping.options.get("template_title") or source.title)
        else:
            title = str(mapping.options.get("template_title") or f"{source.title} — année {{year}}").format(year=year)
        sheets.append((mapping, columns, docs, name, title))
    if len({s[3] for s in sheets}) != len(sheets):
        raise PrstError(f"Source « {source.id} » : deux feuilles du modèle portent le même nom (option template_sheet des mappings).")

    import xlsxwriter

    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.xlsx")
    wb = xlsxwriter.Workbook(str(tmp))
    wb.set_properties({"title": f"Modèle prst — {source.id}", "author": "prst",
                       "comments": "mapping " + ", ".join(m.id for m, *_ in sheets)})  # fmt: skip
    bold = wb.add_format({"bold": True})
    big = wb.add_format({"bold": True, "font_size": 14})
    wrap = wb.add_format({"text_wrap": True, "valign": "top"})
    head = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#FCE4D6", "border": 1})
    label_head = wb.add_format({"bold": True, "text_wrap": True, "valign": "top", "bg_color": "#EDEDED", "border": 1})

    # Lisez-moi: only the « Intitulé » cell of a row may be an accepted header (see _guard)
    guard = _guard(source)
    ws = wb.add_worksheet(README_SHEET)
    ws.set_column(0, 0, 34)
    ws.set_column(1, 1, 12)
    ws.set_column(2, 4, 48)
    row = 0
    ws.write_string(row, 0, f"Modèle de fichier pour prst — {source.title}", big)
    row += 2
    for label, text in (
        ("Source prst", source.id),
        ("Fournisseur", source.provider),
        ("Contenu", source.description),
        ("Format", " ; ".join(f"feuille « {name} » : {m.title} (mapping {m.id})" for m, _, _, name, _ in sheets)),
    ):
        ws.write_string(row, 0, label, bold)
        ws.merge_range(row, 1, row, 4, text, wrap)
        ws.set_row(row, 15 * max(1, len(text) // 150 + 1))
        row += 1
    row += 1
    ws.write_string(row, 0, "Comment remplir", bold)
    row += 1
    first = sheets[0][0]
    names = ", ".join(f"« {name} »" for *_, name, _ in sheets)
    steps = [
        f"Remplissez la feuille {names} à partir de la ligne {HEADER_ROW + 1}, une ligne par case du tableau ; "
        f"ne modifiez pas les intitulés de la ligne {HEADER_ROW} (l'ordre des colonnes est libre).",
        "Les colonnes de libellé (en gris) sont facultatives : prst les ignore.",
    ]
    if len(sheets) > 1:
        steps.append(
            "Chaque feuille est facultative : envoyez celles que vous avez (une feuille vide peut être supprimée). "
            "prst reconnaît chaque feuille à ses en-têtes."
        )
    if has_year_column(first):
        steps.append("L'année de chaque ligne est dans la colonne prévue : un fichier peut donner plusieurs années.")
    else:
        steps.append(
            "L'année de référence est lue dans le titre (cellule A1 de chaque feuille de données) : vérifiez-la, "
            "ou indiquez-la à prst avec --year."
        )
    steps.append(
        "Une case vide vaut 0." if first.empty_means_zero
        else "Une case de comptage vide est refusée : écrivez 0, ou un signe conventionnel."
    )  # fmt: skip
    steps.append(
        "Signes conventionnels acceptés dans les cases de comptage : "
        + " ; ".join(f"« {k} » {v}" for k, v in STATUS_LABELS.items() if k != "p")
        + "."
    )
    steps.append("Pas de ligne de total ni de sous-total : prst calcule les totaux. Une note sous le tableau est ignorée.")
    steps.append(f"Avant l'envoi, vérifiez le fichier : prst ingest {source.id} FICHIER.xlsx --dry-run")
    for s_ in steps:
        ws.merge_range(row, 0, row, 4, "• " + s_, wrap)
        ws.set_row(row, 15 * max(1, len(s_) // 140 + 1))
        row += 1
    for mapping, columns, docs, name, _ in sheets:
        row += 1
        ws.write_string(row, 0, f"Colonnes de la feuille « {name} »", bold)
        row += 1
        for j, h in enumerate(("Intitulé", "Obligatoire", "Contenu", "Valeurs acceptées", "Autres intitulés acceptés")):
            ws.write_string(row, j, h, head)
        row += 1
        for d in docs:
            for j, v in enumerate((d.header, d.required, d.content, d.accepted, d.other_headers)):
                ws.write_string(row, j, v if j == 0 else guard(v), wrap)
            row += 1
        others = [c for c in mapping.columns if c not in columns and "*" not in c.headers[0]]
        if others:
            row += 1
            ws.write_string(row, 0, f"Colonnes facultatives également acceptées dans « {name} » (à ajouter si besoin)", bold)
            row += 1
            for c in others:
                d = describe(source, mapping, c)
                for j, v in enumerate((d.header, "non", d.content, d.accepted, d.other_headers)):
                    ws.write_string(row, j, v if j == 0 else guard(v), wrap)
                row += 1
    listed: set[str] = set()
    for _, columns, docs, _, _ in sheets:
        for d in docs:
            if d.choices and len(d.choices) > 4 and d.header not in listed:
                listed.add(d.header)
                row += 1
                ws.write_string(row, 0, f"Valeurs de « {d.header} »", bold)
                row += 1
                for code in d.choices:
                    ws.write_string(row, 0, guard(code))
                    label = _code_label(d.header, code, columns, docs)
                    if label:
                        ws.merge_range(row, 1, row, 4, guard(label))
                    row += 1

    # Data sheets
    for mapping, columns, docs, name, title in sheets:
        ds = wb.add_worksheet(name)
        ds.write_string(0, 0, title, big)
        ds.write_string(1, 0, f"Modèle prst ({mapping.id}) : voir la feuille « {README_SHEET} ». Remplir à partir de la ligne {HEADER_ROW + 1}.")
        for j, (c, d) in enumerate(zip(columns, docs)):
            ds.write_string(HEADER_ROW - 1, j, d.header, label_head if c.role == "label" else head)
            ds.set_column(j, j, max(12, min(36, len(d.header) + 2)))
            if d.choices:
                ds.data_validation(
                    HEADER_ROW, j, HEADER_ROW + 9999, j,
                    {"validate": "list", "source": d.choices, "error_type": "warning",
                     "input_title": d.header[:32], "input_message": d.accepted[:255]},
                )  # fmt: skip
        ds.set_row(HEADER_ROW - 1, 45)
        ds.freeze_panes(HEADER_ROW, 0)
    wb.worksheets()[1].activate()
    wb.close()
    tmp.replace(path)
    return path


def _guard(source: Source):  # type: ignore[no-untyped-def]
    """A function making a description cell unlike any header the source accepts.

    ``ingest`` takes the first row holding two accepted headers for the header row: a
    description such as « Heures travaillées » beside the header « Nombre d'heures
    travaillées » would make the « Lisez-moi » sheet look like the table.
    """
    import fnmatch

    from prst_etl.sources.readers import norm_header

    aliases: set[str] = set()
    for m in source.mappings():
        aliases |= set(m.aliases())
    exact = {a for a in aliases if "*" not in a}
    globs = [a for a in aliases if "*" in a]

    def guard(text: str) -> str:
        key = norm_header(text)
        if key in exact or any(fnmatch.fnmatchcase(key, g) for g in globs):
            return f"{text} (description)"
        return text

    return guard


def _code_label(header: str, code: str, columns: list[ColumnSpec], docs: list[ColumnDoc]) -> str:
    kind = next((c.kind for c, d in zip(columns, docs) if d.header == header), "")
    if kind == "spsti":
        t = reference.spsti()
        return dict(zip(t["code"], t["nom"] + " — " + t["champ"] + " — départements " + t["departements"])).get(code, "")
    if kind == "a21":
        t = reference.naf_labels()
        t = t.filter(t["level"] == "a21")
        return dict(zip(t["code"], t["libelle"])).get(code, "")
    if kind == "departement":
        t = reference.departements()
        return dict(zip(t["code"], t["nom"])).get(code, "")
    if kind == "ctn":
        t = reference.ctn()
        return dict(zip(t["code"], t["libelle"])).get(code, "")
    return ""


def _root(source: Source) -> Path | None:
    root = getattr(source, "mappings_root", None)
    return None if root is None else Path(str(root))


def default_output(source: Source, year: int | None, mapping: Mapping | None = None) -> Path:
    """``modele-<id>-<year>.xlsx`` (the year helps find it again; none for a multi-year layout)."""
    mapping = mapping or (source.mappings()[-1] if source.mappings() else None)
    if mapping is not None and has_year_column(mapping):
        return Path(f"modele-{source.id}.xlsx")
    return Path(f"modele-{source.id}-{default_year() if year is None else year}.xlsx")
