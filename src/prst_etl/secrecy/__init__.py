"""Statistical secrecy: primary and secondary cell suppression.

See ``docs/secret.md`` (French) for the rules file, the method and its limits.
"""

from .primary import audit, primary_reasons, primary_suppression, rate_pattern
from .rules import RuleBook, Rules, RulesError, load_rulebook, load_rules
from .secondary import SecrecyError, SuppressionResult, secondary_suppression, suppress_cells
from .structure import TOTAL, Hierarchy, HierarchyError

__all__ = [
    "TOTAL",
    "Hierarchy",
    "HierarchyError",
    "RuleBook",
    "Rules",
    "RulesError",
    "SecrecyError",
    "audit",
    "load_rulebook",
    "load_rules",
    "primary_reasons",
    "primary_suppression",
    "rate_pattern",
    "secondary_suppression",
    "suppress_cells",
    "SuppressionResult",
]
