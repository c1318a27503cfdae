"""The vocabulary of prst: codes, levels, fact tables, roll-ups, indicators. Pure: no I/O but the shipped catalogue."""
