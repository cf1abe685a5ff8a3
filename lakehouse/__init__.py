"""Storage layer: settings, the table catalog, Delta I/O through delta-rs, and the Spark bridge."""
