"""What a night left in the lake: data files per table and partition (the small-file check), sizes, rows.

Read from each table's current Delta snapshot (its add actions), never by listing folders:
removed files do not count, staged leftovers would show up in ``stray_files``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import pyarrow as pa

from lakehouse import catalog, storage
from lakehouse.delta import Lake

#: A data file under this size in a partition holding several files is a small file.
SMALL_FILE_BYTES = 32 * 1024 * 1024


@dataclass
class TableStats:
    table: str
    files: int
    partitions: int
    max_files_per_partition: int
    rows: int
    bytes: int
    small_files: int
    log_files: int

    @property
    def bytes_per_row(self) -> float:
        return self.bytes / self.rows if self.rows else 0.0

    @property
    def mean_file_bytes(self) -> float:
        return self.bytes / self.files if self.files else 0.0

    def to_json(self) -> dict:
        return {**asdict(self), "bytes_per_row": self.bytes_per_row, "mean_file_bytes": self.mean_file_bytes}


def table_stats(lake: Lake, spec) -> TableStats | None:
    if not lake.exists(spec):
        return None
    dtable = lake.delta_table(spec)
    adds = pa.table(dtable.get_add_actions(flatten=True)).to_pylist()
    by_partition: dict[tuple, list[int]] = {}
    for add in adds:
        partition = tuple(add.get(f"partition.{p}") for p in spec.partition_by)
        by_partition.setdefault(partition, []).append(add["size_bytes"])
    small = sum(sum(1 for s in sizes if s < SMALL_FILE_BYTES) for sizes in by_partition.values() if len(sizes) > 1)
    log_files = len(storage.list_files(storage.join(lake.uri(spec), "_delta_log"), lake.settings, recursive=False))
    return TableStats(
        table=spec.name,
        files=len(adds),
        partitions=len(by_partition),
        max_files_per_partition=max((len(s) for s in by_partition.values()), default=0),
        rows=sum(int(a.get("num_records") or 0) for a in adds),
        bytes=sum(int(a["size_bytes"]) for a in adds),
        small_files=small,
        log_files=log_files,
    )


def lake_stats(lake: Lake) -> list[TableStats]:
    """Every existing table of the catalog."""
    out = []
    for spec in catalog.tables():
        stats = table_stats(lake, spec)
        if stats is not None:
            out.append(stats)
    return out
