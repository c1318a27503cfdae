"""prst: versioned warehouse of occupational-health indicators (PRST Occitanie)."""
__version__ = "0.1.0"
