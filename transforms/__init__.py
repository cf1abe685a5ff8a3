"""Pure PySpark transforms: DataFrames in, DataFrames out, no I/O."""
