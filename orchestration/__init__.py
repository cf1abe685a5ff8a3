"""Dagster definitions and the plantlake command line: the top layer, imported by nothing."""
