"""The verbs of prst as library functions, each returning a result object."""
