"""Features, training, evaluation, registry, scoring, the cost model and alerts."""
