"""Findings (``Issue``) about input files and failures (``PrstError``) of commands.

A finding about a provider file is never an exception: it is an :class:`Issue`
record collected in a report, so that *all* the problems of a file are shown at
once. An exception is for a command that cannot go on (wrong option, warehouse
in use, unknown source...). Every user-facing text here is in French.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True)
class IssueType:
    code: str
    title: str
    """Short French title shown in reports."""
    hint: str = ""
    """What the provider or the user can do about it."""


# The catalogue of finding codes. Codes are stable (scripts may match on them);
# a test checks that every code used in the code base is listed here.
ISSUE_TYPE_LIST: list[IssueType] = [
    IssueType("file-not-found", "fichier introuvable"),
    IssueType("empty-file", "fichier vide", "Le fichier ne contient aucune donnée."),
    IssueType(
        "not-a-workbook",
        "format de fichier non reconnu",
        "Formats acceptés : classeur Excel (.xlsx, .xlsm, .xls, .ods) ou CSV.",
    ),
    IssueType(
        "corrupt-file",
        "fichier illisible ou tronqué",
        "Le fichier est peut-être incomplet (transfert interrompu) : demandez un nouvel envoi.",
    ),
    IssueType("encoding-error", "encodage du fichier non reconnu", "Enregistrez le CSV en UTF-8 ou en Latin-1."),
    IssueType("sheet-not-found", "feuille introuvable", "Indiquez la feuille avec --sheet."),
    IssueType(
        "sheet-ignored",
        "feuille ignorée",
        "Deux feuilles ont le même format : une seule est lue ; l'autre se charge avec --sheet.",
    ),
    IssueType(
        "header-not-found",
        "ligne d'en-tête introuvable",
        "La ligne d'en-tête doit contenir les intitulés de colonnes attendus (voir « prst sources show »).",
    ),
    IssueType("missing-column", "colonne obligatoire absente"),
    IssueType(
        "unexpected-column",
        "colonne inattendue",
        "Si le fournisseur a changé de format, une nouvelle version du mapping est nécessaire.",
    ),
    IssueType("duplicate-column", "colonne en double"),
    IssueType("ambiguous-geography", "colonne géographique ambiguë"),
    IssueType("non-numeric-count", "valeur non numérique"),
    IssueType("negative-count", "valeur négative"),
    IssueType("non-integer-count", "effectif non entier"),
    IssueType("missing-value", "valeur manquante"),
    IssueType("missing-key", "clé manquante"),
    IssueType("unknown-commune", "commune inconnue"),
    IssueType("unknown-departement", "département inconnu"),
    IssueType("departement-outside-scope", "département hors du périmètre de la source"),
    IssueType(
        "unknown-naf",
        "code NAF inconnu",
        "Un code qui n'est pas une sous-classe de la NAF rév. 2 : selon la source, la ligne est refusée ou comptée "
        "dans le secteur inconnu « _U » (avertissement).",
    ),
    IssueType("naf-mismatch", "code NAF agrégé incohérent"),
    IssueType("unknown-ctn", "code CTN inconnu"),
    IssueType(
        "unknown-mp-tableau",
        "tableau de maladie professionnelle inconnu",
        "Code attendu : numéro du tableau (ex. 057A, 57, 30 bis) ou « Hors tableau ».",
    ),
    IssueType("invalid-flag", "repère non reconnu", "Valeurs acceptées : « oui » ou case vide (aussi : non, x, 1, 0)."),
    IssueType(
        "inconsistent-effectifs",
        "effectifs différents pour un même CTN × NAF",
        "Les salariés, heures et établissements d'un couple CTN × code NAF sont répétés sur chacune de ses "
        "lignes (tableau × syndrome) : ils doivent y être identiques.",
    ),
    IssueType(
        "unknown-msa-sector",
        "secteur MSA inconnu",
        "Les secteurs acceptés (codes, libellés, variantes) sont listés dans sources/msa/secteurs.toml.",
    ),
    IssueType("invalid-sex", "sexe non reconnu", "Valeurs acceptées : H, F, Hommes, Femmes, 1, 2."),
    IssueType("invalid-age-band", "tranche d'âge non reconnue"),
    IssueType("duplicate-key", "ligne en double", "Deux lignes décrivent la même case : supprimez ou sommez-les."),
    IssueType("parts-exceed-total", "somme des détails supérieure au total"),
    IssueType("invalid-date", "date non reconnue", "Dates attendues : 2024-01-01, 01/01/2024 ou date Excel."),
    IssueType("invalid-period", "période incohérente", "La date de fin doit suivre la date de début."),
    IssueType("unknown-code", "code inconnu"),
    IssueType("invalid-code", "code non reconnu", "Voir « prst sources show » pour les codes attendus."),
    IssueType(
        "invalid-size-band",
        "tranche de taille non reconnue",
        "Exemples : « 0 salarié », « 1 à 9 salariés », « 250 salariés ou plus ».",
    ),
    IssueType("inconsistent-values", "valeurs incompatibles entre elles"),
    IssueType("year-not-found", "année de référence introuvable", "Indiquez l'année avec --year."),
    IssueType("year-mismatch", "année incohérente"),
    IssueType("invalid-year", "année non reconnue", "Écrivez l'année de référence sur quatre chiffres (ex. 2024)."),
    IssueType(
        "unknown-spsti",
        "SPSTI inconnu",
        "Codes acceptés : ceux de la liste des SPSTI d'Occitanie (prst sources template ID les rappelle).",
    ),
    IssueType("spsti-departement-mismatch", "département hors du périmètre du SPSTI"),
    IssueType(
        "rate-mismatch",
        "taux du fichier incohérent avec ses comptages",
        "Le taux n'est pas stocké : prst le recalcule comme numérateur / dénominateur.",
    ),
    IssueType(
        "total-mismatch",
        "total différent de la somme de ses parties",
        "Un total donné par le fichier (colonne « Total », ligne de sous-total) doit égaler la somme des cases qu'il résume.",
    ),
    IssueType("invalid-fact", "fait normalisé invalide (erreur interne de prst)"),
    IssueType(
        "accounting-mismatch",
        "comptes d'une mesure non équilibrés (erreur interne de prst)",
        "prst n'a pas retrouvé dans ses tables tout ce que le fichier donne : rien n'est écrit. "
        "Signalez-le avec le fichier (prst ne doit jamais perdre ni compter deux fois une valeur).",
    ),
    IssueType(
        "geo-moved",
        "lignes d'une ancienne commune comptées dans une autre zone d'emploi",
        "Une commune nouvelle appartient à la zone d'emploi de son chef-lieu (règle de l'Insee) : "
        "les lignes données sous le code d'une ancienne commune d'une autre zone y sont comptées.",
    ),
    IssueType(
        "formula-error",
        "erreur de formule dans une cellule",
        "La cellule affiche une erreur Excel (#DIV/0!, #N/A, #VALEUR!…) au lieu d'un nombre : corrigez la formule "
        "ou remplacez-la par sa valeur.",
    ),
    IssueType(
        "value-too-large",
        "nombre hors des limites",
        "Un comptage doit être un nombre fini et raisonnable (moins de 10^15).",
    ),
    IssueType(
        "encrypted-file",
        "classeur protégé par un mot de passe",
        "Enregistrez le classeur sans mot de passe (Fichier > Informations > Protéger le classeur) et renvoyez-le.",
    ),
    IssueType("not-a-file", "ce n'est pas un fichier", "Indiquez le chemin d'un fichier, pas d'un dossier."),
    IssueType(
        "unreadable-file",
        "fichier illisible (droits d'accès)",
        "Vérifiez les droits du fichier (il doit être lisible par l'utilisateur qui lance prst).",
    ),
    IssueType(
        "file-too-large",
        "fichier ou feuille trop grand",
        "prst refuse les feuilles démesurées (cellules trop longues ou trop nombreuses) : enregistrez seulement le tableau.",
    ),
    IssueType(
        "wrong-source",
        "fichier d'une autre source",
        "Relancez « prst ingest » avec la source indiquée.",
    ),
]
ISSUE_TYPES: dict[str, IssueType] = {t.code: t for t in ISSUE_TYPE_LIST}
"""Codes listed once each in ISSUE_TYPE_LIST (a duplicate would replace the earlier entry: a test checks)."""


def _severity_table() -> dict[str, object]:
    import tomllib

    from prst_etl.resources import data_dir

    path = data_dir("schemas") / "findings.toml"
    with path.open("rb") as fh:
        return tomllib.load(fh)


_SEVERITIES: dict[str, object] | None = None


def severity_of(code: str, source_id: str = "") -> Severity:
    """The severity of a finding code for a source: data, in ``schemas/findings.toml``
    (``[severity]``, then ``[sources.<id>]``); a code listed nowhere is an error."""
    global _SEVERITIES
    if _SEVERITIES is None:
        _SEVERITIES = _severity_table()
    per_source = _SEVERITIES.get("sources", {}).get(source_id, {})  # type: ignore[union-attr]
    value = per_source.get(code) or _SEVERITIES.get("severity", {}).get(code, "error")  # type: ignore[union-attr]
    if value not in ("error", "warning"):
        raise ValueError(f"schemas/findings.toml: severity of {code!r} must be error or warning, not {value!r}")
    return value  # type: ignore[return-value]


@dataclass(frozen=True)
class Issue:
    """One finding about an input file, located as precisely as possible."""

    code: str
    message: str
    file: str = ""
    sheet: str | None = None
    row: int | None = None
    """Row number as the provider sees it: Excel row, or CSV line (1-based)."""
    column: str | None = None
    value: str | None = None
    severity: Severity = "error"
    source_id: str = ""
    hint: str = ""

    def __post_init__(self) -> None:
        if self.code not in ISSUE_TYPES:
            raise ValueError(f"unknown issue code {self.code!r}: add it to ISSUE_TYPES")

    @property
    def title(self) -> str:
        return ISSUE_TYPES[self.code].title

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["title"] = self.title
        d["hint"] = self.hint or ISSUE_TYPES[self.code].hint
        return d


class PrstError(Exception):
    """A command cannot go on. Rendered once, by the CLI, as a French message."""

    exit_code = 3

    def __init__(self, message: str, *, hint: str = "", **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.context = context


class UsageError(PrstError):
    """Wrong option or argument value (exit code 2, like click's own usage errors)."""

    exit_code = 2


class UnknownName(UsageError):
    """A name that must be one of a known list."""

    def __init__(self, what: str, name: str, known: list[str]) -> None:
        super().__init__(
            f"{what} inconnu(e) : « {name} ».",
            hint="Valeurs possibles : " + ", ".join(sorted(known)) if known else "",
            name=name,
            known=known,
        )
        self.known = known


class WarehouseBusy(PrstError):
    """Another prst process is writing to the same warehouse."""


class WarehouseError(PrstError):
    """The warehouse is missing, damaged or of an unknown format."""


@dataclass
class Stats:
    """Row accounting of one file: every row read is kept, skipped or rejected."""

    rows_read: int = 0
    rows_kept: int = 0
    rows_skipped: int = 0
    """Blank lines and notes below or inside the table (not data)."""
    rows_rejected: int = 0
    rows_merged: int = 0
    """Rows summed into another one because their old commune code maps to the same current commune."""
    skipped_detail: dict[str, int] = field(default_factory=dict)
