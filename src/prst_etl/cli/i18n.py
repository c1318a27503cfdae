"""typer's and click's own texts in French: usage errors, help panels, the help option, type names.

typer (which vendors click) writes its messages in English with f-strings, not through gettext:
they are translated here where they are shown — the error panel (:func:`format_error`), the
panel titles and notes of the help screens, the help option's text and the type shown beside an
option (none for a flag: ``--json`` takes no value). :func:`install` is called once when the CLI
is built; the library (``prst_etl``) itself never needs it.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import re
import sys
from collections.abc import Callable
from typing import Any

MESSAGES: list[tuple[str, str]] = [
    (r"^No such command '(?P<a>.*)'\.$", "Commande inconnue : « {a} »."),
    (r"^No such command (?P<a>.*)\.$", "Commande inconnue : {a}."),
    (r"^No such option: (?P<a>\S+)(?: \(Possible options: (?P<b>.*)\))?$", "Option inconnue : {a}.{b}"),
    (r"^No such option: (?P<a>\S+) Did you mean (?P<b>.*)\?$", "Option inconnue : {a}. Vouliez-vous dire {b} ?"),
    (r"^Missing command\.$", "Commande manquante."),
    (r"^Missing argument '(?P<a>.*)'\.$", "Argument manquant : {a}."),
    (r"^Missing option '(?P<a>.*)'\.$", "Option manquante : {a}."),
    (r"^Missing parameter: (?P<a>.*)$", "Paramètre manquant : {a}."),
    (r"^Option '(?P<a>.*)' requires an argument\.$", "L'option {a} attend une valeur."),
    (r"^Option '(?P<a>.*)' requires (?P<n>\d+) arguments\.$", "L'option {a} attend {n} valeurs."),
    (r"^Option '(?P<a>.*)' does not take a value\.$", "L'option {a} ne prend pas de valeur."),
    (r"^Got unexpected extra arguments? \((?P<a>.*)\)$", "Argument(s) en trop : {a}."),
    (r"^Invalid value for (?P<a>.*?): (?P<b>.*)$", "Valeur invalide pour {a} : {b}"),
    (r"^Invalid value: (?P<b>.*)$", "Valeur invalide : {b}"),
]
"""English message pattern → French template (``{a}``, ``{b}``, ``{n}``: the captured parts)."""

DETAILS: list[tuple[str, str]] = [
    (r"'(?P<v>[^']*)' is not a valid integer(?: range)?\.", "« {v} » n'est pas un nombre entier."),
    (r"'(?P<v>[^']*)' is not a valid float(?: range)?\.", "« {v} » n'est pas un nombre."),
    (r"'(?P<v>[^']*)' is not a valid boolean\.", "« {v} » n'est pas un booléen (oui/non)."),
    (r"Value '(?P<v>[^']*)' is not a valid (?P<t>\w+)\.", "« {v} » n'est pas une valeur valide ({t})."),
    (r"(?P<k>File|Directory|Path) '(?P<v>[^']*)' does not exist\.", "« {v} » n'existe pas."),
    (r"'(?P<v>[^']*)' is not one of (?P<c>.*)\.", "« {v} » ne fait pas partie des valeurs possibles : {c}."),
    (r"Input should be a valid integer.*$", "un nombre entier est attendu."),
    (r"Input should be a valid number.*$", "un nombre est attendu."),
    (r"Input should be a valid boolean.*$", "oui ou non (true/false) est attendu."),
    (r"Input should be (?P<c>.*)$", "valeur attendue : {c}."),
]
"""Detail of an invalid value (the part after « Invalid value for … : »)."""

TYPES = {"str": "texte", "int": "entier", "float": "nombre", "path": "chemin", "integer": "entier", "text": "texte"}
"""Type names shown beside options (``<str>`` → ``<texte>``)."""


def translate(message: str) -> str:
    """One of typer's or click's English messages in French (unchanged when not known)."""
    text = message.strip()
    for pattern, template in MESSAGES:
        m = re.match(pattern, text, flags=re.S)
        if m:
            parts = {k: v or "" for k, v in m.groupdict().items()}
            if template.endswith("{b}") and "Option inconnue" in template and parts.get("b"):
                parts["b"] = f" Options proches : {parts['b']}."
            if "b" in parts and "Valeur invalide" in template:
                parts["b"] = _detail(parts["b"])
            return template.format(**parts)
    return _detail(text)


def _detail(text: str) -> str:
    for pattern, template in DETAILS:
        m = re.search(pattern, text)
        if m:
            return text[: m.start()] + template.format(**m.groupdict()) + text[m.end() :]
    return text


def _french_usage(usage: str) -> str:
    return re.sub(r"^(\s*)Usage: ", r"\1Utilisation : ", usage)


USAGE_WORDS = {"[OPTIONS]": "[OPTIONS]", "COMMAND": "COMMANDE", "[ARGS]...": "[ARGUMENTS]..."}
"""The placeholders of a usage line (``prst [OPTIONS] COMMAND [ARGS]...``) in French."""


def french_usage_args(args: str) -> str:
    """``[OPTIONS] COMMAND [ARGS]...`` → ``[OPTIONS] COMMANDE [ARGUMENTS]...``."""
    return " ".join(USAGE_WORDS.get(w, w) for w in args.split(" "))


def reflow(text: str) -> str:
    """A docstring's paragraphs as single lines (the terminal wraps them); indented lines and
    lists (examples, ``- item``) are kept as written."""
    import inspect

    paras = re.split(r"\n[ \t]*\n", inspect.cleandoc(text))
    out = []
    for p in paras:
        lines = p.split("\n")
        if any(line.startswith((" ", "-", "•", "*")) for line in lines):
            out.append(p)
        else:
            out.append(" ".join(line.strip() for line in lines))
    return "\n\n".join(out)


_installed = False


def install() -> None:
    """Translate typer's own texts (idempotent)."""
    global _installed
    if _installed:
        return
    _installed = True
    import typer.core as tcore
    from typer._click import core as ccore
    from typer._click import formatting

    _after_import("typer.rich_utils", _french_rich_utils)

    # The help option of every command, and « Usage: » in help screens
    original_help: Callable[..., Any] = ccore.Command.get_help_option

    def get_help_option(self: Any, ctx: Any) -> Any:
        opt = original_help(self, ctx)
        if opt is not None:
            opt.help = "Affiche cette aide et quitte."
        return opt

    ccore.Command.get_help_option = get_help_option  # type: ignore[method-assign]
    original_usage = formatting.HelpFormatter.write_usage

    def write_usage(self: Any, prog: str, args: str = "", prefix: str | None = None) -> None:
        original_usage(self, prog, french_usage_args(args), "Utilisation : " if prefix is None else prefix)

    formatting.HelpFormatter.write_usage = write_usage  # type: ignore[method-assign]

    # No type shown for a flag (``--json``), French names for the others
    original_type = tcore.TyperOption.display_type_rich

    def display_type_rich(self: Any, ctx: Any) -> str | None:
        if getattr(self, "is_flag", False) or getattr(self, "is_bool_flag", False):
            return None
        shown = original_type(self, ctx)
        return _french_type(shown)

    tcore.TyperOption.display_type_rich = display_type_rich  # type: ignore[method-assign]
    original_arg_type = tcore.TyperArgument.display_type_rich

    def arg_display_type_rich(self: Any, ctx: Any) -> str | None:
        return _french_type(original_arg_type(self, ctx))

    tcore.TyperArgument.display_type_rich = arg_display_type_rich  # type: ignore[method-assign]


def _french_rich_utils(ru: Any) -> None:
    """Panel titles and the error panel of ``typer.rich_utils`` in French (once it is imported)."""
    from rich.markup import escape

    from typer import _click

    ru.ARGUMENTS_PANEL_TITLE = "Arguments"
    ru.OPTIONS_PANEL_TITLE = "Options"
    ru.COMMANDS_PANEL_TITLE = "Commandes"
    ru.ERRORS_PANEL_TITLE = "Erreur"
    ru.ABORTED_TEXT = "Interrompu."
    ru.RICH_HELP = "Aide : [blue]'{command_path} {help_option}'[/]."
    ru.DEFAULT_STRING = "[défaut : {}]"
    ru.ENVVAR_STRING = "[variable d'environnement : {}]"
    ru.REQUIRED_LONG_STRING = "[obligatoire]"
    ru.DEPRECATED_STRING = "(obsolète) "

    def format_error(self: _click.ClickException) -> None:
        """typer's error panel, in French: usage line, where to find help, the message."""
        if self.__class__.__name__ == "NoArgsIsHelpError":
            return
        console = ru._get_rich_console(stderr=True)
        ctx: Any = getattr(self, "ctx", None)
        if ctx is not None:
            console.print(ru.highlighter(_french_usage(ctx.get_usage())), style=ru.STYLE_USAGE_COMMAND)
            if ctx.command.get_help_option(ctx) is not None:
                console.print(
                    ru.RICH_HELP.format(command_path=escape(ctx.command_path), help_option=ctx.help_option_names[0]),
                    style=ru.STYLE_ERRORS_SUGGESTION,
                )
        console.print(
            ru.Panel(
                ru.highlighter(translate(self.format_message())),
                border_style=ru.STYLE_ERRORS_PANEL_BORDER,
                title=ru.ERRORS_PANEL_TITLE,
                title_align=ru.ALIGN_ERRORS_PANEL,
            )
        )

    ru.rich_format_error = format_error

    # Help texts are written as docstrings wrapped at 100 columns: shown as paragraphs that the
    # terminal wraps, not as lines cut in the middle of a sentence
    original_help_screen = ru.rich_format_help

    def rich_format_help(*, obj: Any, ctx: Any, markup_mode: Any) -> None:
        if getattr(obj, "help", None):
            obj.help = reflow(obj.help)
        return original_help_screen(obj=obj, ctx=ctx, markup_mode=markup_mode)

    ru.rich_format_help = rich_format_help


class _AfterImport(importlib.abc.MetaPathFinder):
    """Runs ``patch(module)`` right after ``name`` is first imported.

    ``typer.rich_utils`` (and rich's markdown it pulls in) costs about 0.1 s: commands that
    show no help screen and no usage error never import it, so it is translated only when
    typer needs it."""

    def __init__(self, name: str, patch: Callable[[Any], None]) -> None:
        self.name, self.patch = name, patch

    def find_spec(self, fullname: str, path: Any = None, target: Any = None) -> Any:
        if fullname != self.name:
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader, patch = spec.loader, self.patch

        class _Loader(importlib.abc.Loader):
            def create_module(self, spec: Any) -> Any:
                return loader.create_module(spec)

            def exec_module(self, module: Any) -> None:
                loader.exec_module(module)
                patch(module)

        spec.loader = _Loader()
        return spec


def _after_import(name: str, patch: Callable[[Any], None]) -> None:
    if name in sys.modules:
        patch(sys.modules[name])
    else:
        sys.meta_path.insert(0, _AfterImport(name, patch))

def _french_type(shown: str | None) -> str | None:
    if shown is None:
        return None
    return re.sub(r"<(\w+)>", lambda m: f"<{TYPES.get(m.group(1), m.group(1))}>", shown)
