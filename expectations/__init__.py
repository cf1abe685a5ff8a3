"""Great Expectations 1.x suites, one per table, and the runner."""
