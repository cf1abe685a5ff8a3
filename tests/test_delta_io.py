"""Delta I/O through delta-rs, each test on local disk and on the real S3 server."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
import textwrap

import pandas as pd
import polars as pl
import pyarrow as pa
import pyarrow.compute  # noqa: F401  (pa.compute)
import pytest

from lakehouse import storage
from lakehouse.catalog import TableSpec
from lakehouse.errors import PartitionValueError, SchemaMismatchError, TableNotFoundError
from lakehouse.slices import Slices
from tests.lakedata import READINGS, START, readings, sorted_rows

D1, D2, D3 = START, START + dt.timedelta(days=1), START + dt.timedelta(days=2)


def partition_bytes(lake, day: dt.date) -> dict[str, str]:
    """sha256 of every data file of one date partition in the current snapshot."""
    files = lake.delta_table(READINGS).file_uris(file_pruning_predicate=[("date", "=", day)])
    return {f: hashlib.sha256(storage.read_bytes(f, lake.settings)).hexdigest() for f in files}


def test_append_and_read_back_as_arrow_pandas_polars(lake):
    data = pa.concat_tables([readings(D1, ["P01", "P02"]), readings(D2, ["P01"])])
    version = lake.append(READINGS, data)
    assert version == 1  # 0 is the creation from the catalog schema
    back = lake.read(READINGS)
    assert back.schema.names == READINGS.column_names
    assert sorted_rows(back) == sorted_rows(data)
    assert isinstance(lake.read_pandas(READINGS), pd.DataFrame)
    assert lake.read_polars(READINGS).height == data.num_rows
    only_d2 = lake.read(READINGS, filters=[("date", "=", D2)], columns=["plant_id", "value"])
    assert only_d2.column_names == ["plant_id", "value"]
    assert only_d2.num_rows == readings(D2, ["P01"]).num_rows
    high = lake.read(READINGS, filters=[("value", ">", 5.0)])
    assert high.num_rows == sum(1 for r in data.to_pylist() if r["value"] > 5.0)


def test_reads_of_nights_use_the_snapshot_s_file_list_and_counts(lake):
    """Filters on the partition column only: the dataset is the snapshot's files of those nights, each with its
    night, and a count is the row counts the snapshot records; a filter on another column keeps delta-rs's
    per-file statistics. Either way the rows are those an exact filter gives."""
    from lakehouse.delta import kept_files

    data = pa.concat_tables([readings(D1, ["P01", "P02"]), readings(D2, ["P01"]), readings(D3, ["P02"])])
    lake.append(READINGS, data)
    lake.replace_slices(READINGS, readings(D2, ["P01", "P02"]), Slices.of(READINGS, {D2: None}))
    expected = pa.concat_tables([readings(D1, ["P01", "P02"]), readings(D2, ["P01", "P02"])])
    nights = [("date", "in", [D1, D2])]
    files = kept_files(lake.delta_table(READINGS), nights)
    assert sorted(set(files.column("date").to_pylist())) == [D1, D2]  # the snapshot's files of those nights only
    assert lake.count(READINGS, filters=nights) == expected.num_rows == pa.compute.sum(files["num_records"]).as_py()
    assert sorted_rows(lake.read(READINGS, filters=nights)) == sorted_rows(expected)
    assert set(lake.read(READINGS, filters=nights, columns=["date"]).column("date").to_pylist()) == {D1, D2}
    assert lake.count(READINGS) == expected.num_rows + readings(D3, ["P02"]).num_rows
    by_plant = [("date", "in", [D1, D2]), ("plant_id", "=", "P02")]
    assert kept_files(lake.delta_table(READINGS), by_plant) is None
    assert lake.count(READINGS, filters=by_plant) == sum(r["plant_id"] == "P02" for r in expected.to_pylist())


def test_written_table_carries_catalog_metadata(lake):
    lake.append(READINGS, readings(D1, ["P01"]))
    dtable = lake.delta_table(READINGS)
    assert dtable.metadata().partition_columns == ["date"]
    assert dtable.metadata().description == READINGS.description
    fields = {f["name"]: f for f in json.loads(dtable.schema().to_json())["fields"]}
    assert fields["value"]["metadata"]["comment"] == "Reading [mm/s]"
    assert fields["plant_id"]["nullable"] is False


def test_replacing_a_date_leaves_other_dates_byte_for_byte(lake):
    for day in (D1, D2, D3):
        lake.append(READINGS, readings(day, ["P01", "P02"]))
    before = {day: partition_bytes(lake, day) for day in (D1, D3)}
    new = readings(D2, ["P01", "P02"], seed=99)
    lake.replace_slice(READINGS, new, D2)
    assert {day: partition_bytes(lake, day) for day in (D1, D3)} == before
    assert sorted_rows(lake.read(READINGS, filters=[("date", "=", D2)])) == sorted_rows(new)


def test_replacing_date_and_plant_leaves_other_plants(lake):
    original = readings(D1, ["P01", "P02", "P03"])
    lake.append(READINGS, original)
    lake.append(READINGS, readings(D2, ["P01", "P02", "P03"]))
    other_day = partition_bytes(lake, D2)
    new_p02 = readings(D1, ["P02"], machines=5, seed=7)
    lake.replace_slice(READINGS, new_p02, D1, ["P02"])
    after = lake.read(READINGS, filters=[("date", "=", D1)])
    kept = original.filter(pa.compute.not_equal(original.column("plant_id"), "P02"))
    expected = pa.concat_tables([kept, new_p02])
    assert sorted_rows(after) == sorted_rows(expected)
    assert partition_bytes(lake, D2) == other_day


def test_replacing_a_slice_twice_gives_the_same_table(lake):
    lake.append(READINGS, readings(D1, ["P01", "P02"]))
    new = readings(D1, ["P01"], seed=3)
    lake.replace_slice(READINGS, new, D1, ["P01"])
    once = sorted_rows(lake.read(READINGS))
    lake.replace_slice(READINGS, new, "2026-01-01", ["P01"])
    assert sorted_rows(lake.read(READINGS)) == once


def test_replacing_with_no_rows_deletes_the_slice(lake):
    lake.append(READINGS, readings(D1, ["P01", "P02"]))
    lake.replace_slice(READINGS, READINGS.schema.empty_table(), D1, ["P02"])
    assert set(lake.read(READINGS).column("plant_id").to_pylist()) == {"P01"}


def test_merge_upserts_on_the_natural_key(lake):
    first = readings(D1, ["P01"], machines=2, per_machine=2)
    lake.merge(READINGS, first)
    changed = first.slice(0, 1).set_column(4, "value", pa.array([42.0]))
    added = readings(D2, ["P01"], machines=1, per_machine=1)
    lake.merge(READINGS, pa.concat_tables([changed, added]))
    rows = lake.read(READINGS)
    assert rows.num_rows == first.num_rows + added.num_rows
    key = first.slice(0, 1).to_pylist()[0]
    match = [r for r in rows.to_pylist() if (r["machine_id"], r["ts"]) == (key["machine_id"], key["ts"])]
    assert [r["value"] for r in match] == [42.0]


def test_filters_work_on_the_string_view_files_a_merge_writes(lake):
    """delta-rs merges write strings as string_view, which pyarrow's scan cannot compare with a literal."""
    rows = readings(D1, ["P01", "P02"], machines=2, per_machine=2)
    lake.merge(READINGS, rows)
    physical = {f.physical_schema.field("plant_id").type for f in lake.dataset(READINGS).get_fragments()}
    assert pa.string_view() in physical  # the case this test is about (drop the fallback when this fails)
    wanted = [("plant_id", "=", "P02")]
    expected = [r for r in rows.to_pylist() if r["plant_id"] == "P02"]
    assert sorted_rows(lake.read(READINGS, filters=wanted)) == sorted_rows(pa.Table.from_pylist(expected,
                                                                                                   rows.schema))
    assert lake.count(READINGS, filters=wanted) == len(expected)
    assert lake.value_counts(READINGS, "plant_id", filters=wanted) == {"P02": len(expected)}
    assert set(lake.head(READINGS, 2, filters=wanted).column("plant_id").to_pylist()) == {"P02"}
    assert lake.read(READINGS, filters=wanted, columns=["value"]).column_names == ["value"]


def test_merge_refuses_duplicate_keys(lake):
    dup = pa.concat_tables([readings(D1, ["P01"], machines=1, per_machine=1)] * 2)
    with pytest.raises(SchemaMismatchError, match="natural keys appear twice"):
        lake.merge(READINGS, dup)


def test_schema_mismatch_fails_before_writing(lake):
    lake.append(READINGS, readings(D1, ["P01"]))
    version = lake.version(READINGS)
    good = readings(D2, ["P01"])
    bad = good.drop_columns(["count"]).append_column("extra", pa.array([1] * good.num_rows))
    bad = bad.set_column(bad.schema.get_field_index("value"), "value", pa.array(["x"] * good.num_rows))
    with pytest.raises(SchemaMismatchError) as err:
        lake.append(READINGS, bad)
    message = str(err.value)
    assert "missing columns count" in message
    assert "unexpected columns extra" in message
    assert "value: expected double, got string" in message
    with pytest.raises(SchemaMismatchError, match="plant_id is declared not null"):
        lake.append(READINGS, good.set_column(1, "plant_id", pa.array([None] * good.num_rows, pa.string())))
    assert lake.version(READINGS) == version


def test_lossless_variants_are_accepted(lake):
    """Polars large strings, narrower ints, nanosecond UTC timestamps: cast, not refused."""
    data = readings(D1, ["P01"])
    frame = pl.from_arrow(data).with_columns(pl.col("count").cast(pl.Int32), pl.col("ts").dt.cast_time_unit("ns"))
    lake.append(READINGS, frame)
    assert sorted_rows(lake.read(READINGS)) == sorted_rows(data)
    naive = data.set_column(3, "ts", data.column("ts").cast(pa.timestamp("us")))
    with pytest.raises(SchemaMismatchError, match="ts: expected timestamp"):
        lake.append(READINGS, naive)


@pytest.mark.parametrize("bad_date", [20260102, dt.datetime(2026, 1, 2), "02.01.2026", None])
def test_wrong_typed_partition_value_is_an_error_not_an_overwrite(lake, bad_date):
    lake.append(READINGS, pa.concat_tables([readings(D1, ["P01"]), readings(D2, ["P01"])]))
    version, rows = lake.version(READINGS), sorted_rows(lake.read(READINGS))
    with pytest.raises(PartitionValueError, match="date must be a date"):
        lake.replace_slice(READINGS, readings(D2, ["P01"], seed=5), bad_date)
    assert lake.version(READINGS) == version
    assert sorted_rows(lake.read(READINGS)) == rows


def test_rows_outside_the_slice_are_refused(lake):
    lake.append(READINGS, readings(D1, ["P01", "P02"]))
    version = lake.version(READINGS)
    with pytest.raises(PartitionValueError, match="outside the slice"):
        lake.replace_slice(READINGS, readings(D2, ["P01"]), D1)
    with pytest.raises(PartitionValueError, match="outside the slice"):
        lake.replace_slice(READINGS, readings(D1, ["P01", "P02"]), D1, ["P01"])
    with pytest.raises(PartitionValueError, match="non-empty list"):
        lake.replace_slice(READINGS, readings(D1, ["P01"]), D1, "P01")
    assert lake.version(READINGS) == version


def test_time_travel_history_and_maintenance(lake):
    lake.append(READINGS, readings(D1, ["P01"]))
    v1_rows = sorted_rows(lake.read(READINGS))
    for seed in range(4):
        lake.append(READINGS, readings(D2, [f"P{seed + 10}"]))
    lake.replace_slice(READINGS, readings(D1, ["P01"], seed=11), D1)
    assert sorted_rows(lake.read(READINGS, version=1)) == v1_rows
    history = lake.history(READINGS)
    assert [h["version"] for h in history][:2] == [6, 5]
    assert history[0]["operation"] == "WRITE"
    assert history[0]["plantlake.operation"] == "replace date IN ('2026-01-01')"

    current = sorted_rows(lake.read(READINGS))
    files_before = lake.file_count(READINGS)
    metrics = lake.optimize(READINGS)
    assert metrics["numFilesRemoved"] == 4 and metrics["numFilesAdded"] == 1
    assert lake.file_count(READINGS) == files_before - 3
    assert sorted_rows(lake.read(READINGS)) == current

    # A retention of 0 hours deletes every file the current snapshot does not use.
    vacuumed = lake.vacuum(READINGS, retention_hours=0)
    assert vacuumed["numFilesDeleted"] == 5  # the 4 compacted files and D1's replaced one
    assert sorted_rows(lake.read(READINGS)) == current
    lake.checkpoint(READINGS)
    log = lake.read("ops.table_maintenance")
    assert sorted(log.column("operation").to_pylist()) == ["checkpoint", "optimize", "vacuum"]
    assert set(log.column("table_name").to_pylist()) == {READINGS.name}


def test_missing_table(lake):
    with pytest.raises(TableNotFoundError, match="no Delta table"):
        lake.read(READINGS)
    assert lake.read(READINGS, missing_ok=True).num_rows == 0
    assert lake.version(READINGS) is None


APPENDER = textwrap.dedent(
    """
    import sys, time
    from lakehouse.delta import Lake
    from tests.lakedata import READINGS, START, readings
    lake = Lake(sys.argv[1])
    plant, go = sys.argv[2], float(sys.argv[3])
    while time.time() < go:
        time.sleep(0.005)
    for i in range(5):
        lake.append(READINGS, readings(START, [plant], seed=i))
    """
)


def test_two_processes_append_at_the_same_time(lake, tmp_path):
    """Both processes start at the same moment on a table that does not exist yet and append five times each:
    both create it, one wins and the other takes its table (one CREATE TABLE, then the ten appends)."""
    assert lake.version(READINGS) is None
    env = {**os.environ, **_s3_env(lake)}
    go = __import__("time").time() + 6  # both processes start appending at the same moment
    procs = [
        subprocess.Popen([sys.executable, "-c", APPENDER, lake.root, plant, str(go)], env=env, cwd=os.getcwd())
        for plant in ("PA", "PB")
    ]
    assert [p.wait(180) for p in procs] == [0, 0]
    rows = lake.read(READINGS)
    per_plant = rows.group_by("plant_id").aggregate([([], "count_all")]).to_pylist()
    expected = 5 * readings(START, ["PA"]).num_rows
    assert sorted((r["plant_id"], r["count_all"]) for r in per_plant) == [("PA", expected), ("PB", expected)]
    appends = [h for h in lake.history(READINGS) if h["operation"] == "WRITE"]
    assert len(appends) == 10
    assert lake.version(READINGS) == 10


def _s3_env(lake) -> dict[str, str]:
    s3 = lake.settings.s3
    if not storage.is_s3(lake.root):
        return {}
    return {
        "AWS_ACCESS_KEY_ID": s3.access_key_id,
        "AWS_SECRET_ACCESS_KEY": s3.secret_access_key,
        "AWS_REGION": s3.region,
        "AWS_ENDPOINT_URL": s3.endpoint_url,
    }


def test_several_slices_in_one_commit(lake):
    """A backfill run replaces many nights (whole, or some plants of them) in one commit."""
    for day in (D1, D2, D3):
        lake.append(READINGS, readings(day, ["P01", "P02"]))
    untouched = partition_bytes(lake, D3)
    version = lake.version(READINGS)
    new = pa.concat_tables([readings(D1, ["P01", "P02"], seed=21), readings(D2, ["P02"], seed=22)])
    lake.replace_slices(READINGS, new, {D1: None, D2: ["P02"]})
    assert lake.version(READINGS) == version + 1
    assert lake.history(READINGS, 1)[0]["plantlake.operation"] == (
        "replace date IN ('2026-01-01') OR (date = '2026-01-02' AND plant_id IN ('P02'))"
    )
    rows = lake.read(READINGS)
    expected = pa.concat_tables([new, readings(D2, ["P01", "P02"]).filter(pa.compute.equal(
        readings(D2, ["P01", "P02"]).column("plant_id"), "P01")), readings(D3, ["P01", "P02"])])
    assert sorted_rows(rows) == sorted_rows(expected)
    assert partition_bytes(lake, D3) == untouched
    with pytest.raises(PartitionValueError, match="outside the slice"):
        lake.replace_slices(READINGS, readings(D2, ["P01"]), {D1: None, D2: ["P02"]})


def test_the_slice_mask_marks_exactly_the_rows_outside_every_slice():
    """Whole nights, nights narrowed to different plants, and rows with no date or plant."""
    D4 = D3 + dt.timedelta(days=1)
    slices = Slices.of(READINGS, {D1: None, D2: ["P01", "P02"], D3: ["P01", "P02"], D4: ["P03"]})
    rows = [(D1, "P09"), (D2, "P01"), (D2, "P03"), (D3, "P02"), (D4, "P03"), (D4, "P01"), (None, "P01"),
            (D2, None), (D4 + dt.timedelta(days=1), "P03")]
    batch = pa.table({"date": pa.array([d for d, _ in rows], pa.date32()), "plant_id": [p for _, p in rows]})
    expected = [not (d == D1 or (d in (D2, D3) and p in ("P01", "P02")) or (d == D4 and p == "P03"))
                for d, p in rows]
    assert slices.outside(batch).to_pylist() == expected
    assert expected == [False, False, True, False, False, True, True, True, True]


def test_monthly_tables_slice_on_their_month_column(lake):
    from lakehouse.catalog import DATE, FLOAT64, STRING, TableSpec, col

    monthly = TableSpec(
        name="gold.test_monthly",
        description="A monthly table.",
        columns=(col("month", DATE, "First day of the month", nullable=False), col("plant_id", STRING, "Plant"),
                 col("value", FLOAT64, "Value")),
        partition_by=("month",),
        natural_key=("month", "plant_id"),
    )
    jan, feb = dt.date(2026, 1, 1), dt.date(2026, 2, 1)
    rows = pa.table({"month": [jan, jan, feb], "plant_id": ["P01", "P02", "P01"], "value": [1.0, 2.0, 3.0]})
    lake.append(monthly, rows)
    lake.replace_slice(monthly, pa.table({"month": [jan], "plant_id": ["P01"], "value": [9.0]}), jan, ["P01"])
    got = sorted(lake.read(monthly).to_pylist(), key=lambda r: (r["month"], r["plant_id"]))
    assert [r["value"] for r in got] == [9.0, 2.0, 3.0]
    with pytest.raises(PartitionValueError, match="not partitioned by a date column"):
        lake.replace_slice(READINGS.__class__(name="gold.test_unpartitioned", description="x",
                                              columns=(col("plant_id", STRING, "p"),), partition_by=()),
                           pa.table({"plant_id": ["x"]}), jan)


def test_merge_never_lets_an_older_night_overwrite_newer_attributes(lake):
    from lakehouse.catalog import DATE, STRING, TableSpec, col

    dim = TableSpec(
        name="silver.test_dim",
        description="A type 1 dimension.",
        columns=(col("machine_id", STRING, "Key", nullable=False), col("model", STRING, "Attribute"),
                 col("first_seen", DATE, "First seen", nullable=False), col("as_of", DATE, "As of", nullable=False)),
        partition_by=(),
        natural_key=("machine_id",),
    )

    def night(day: dt.date, model: str) -> pa.Table:
        return pa.table({"machine_id": ["M1"], "model": [model], "first_seen": [day], "as_of": [day]})

    lake.merge(dim, night(D2, "v2"), newer="as_of", keep_earliest=["first_seen"])
    lake.merge(dim, night(D3, "v3"), newer="as_of", keep_earliest=["first_seen"])
    lake.merge(dim, night(D1, "v1"), newer="as_of", keep_earliest=["first_seen"])  # a re-run of an old night
    assert lake.read(dim).to_pylist() == [{"machine_id": "M1", "model": "v3", "first_seen": D1, "as_of": D3}]


def test_a_store_failure_wrapped_by_delta_rs_is_named_as_the_store_not_answering():
    """delta-rs reports a PUT cut off mid-write as a DeltaError ("Failed to parse parquet: ... S3 error")."""
    from deltalake.exceptions import DeltaError

    from lakehouse.errors import StorageError, storage_problem

    cut = DeltaError("Failed to parse parquet: External: Generic S3 error: Error performing PUT "
                     "http://127.0.0.1:9000/b/t/part-0.parquet in 713ms, after 5 retries - "
                     "HTTP error: error sending request")
    problem = storage_problem(cut, "http://127.0.0.1:9000", "bronze.telemetry: write")
    assert isinstance(problem, StorageError)
    assert str(problem).startswith("bronze.telemetry: write: the store at http://127.0.0.1:9000 did not answer")
    assert storage_problem(DeltaError("Generic DeltaTable error: schema mismatch"), "x", "y") is None


def test_a_table_written_before_its_declaration_gained_a_column_gets_it(lake):
    """An upgrade that adds a nullable column: old rows read it as null, new writes fill it."""
    older = TableSpec(name=READINGS.name, description=READINGS.description, columns=READINGS.columns[:-1],
                      partition_by=READINGS.partition_by, natural_key=READINGS.natural_key)
    lake.append(older, readings(START, ["DE01"]).drop(["count"]))
    later = START + dt.timedelta(days=1)
    lake.replace_slice(READINGS, readings(later, ["DE01"]), later)
    rows = lake.read(READINGS)
    counts = {d: [c for c, day in zip(rows["count"].to_pylist(), rows["date"].to_pylist(), strict=True) if day == d]
              for d in (START, later)}
    assert set(counts[START]) == {None} and None not in counts[later]
    assert "ADD COLUMN" in [c["operation"] for c in lake.history(READINGS)]


def test_a_table_holding_a_column_the_catalog_dropped_is_refused_with_the_fix(lake):
    lake.append(READINGS, readings(START, ["DE01"]))
    narrower = TableSpec(name=READINGS.name, description=READINGS.description, columns=READINGS.columns[:-1],
                         partition_by=READINGS.partition_by, natural_key=READINGS.natural_key)
    with pytest.raises(SchemaMismatchError, match=r"no longer declares \(count\).*Rebuild it"):
        lake.append(narrower, readings(START, ["FR02"]).drop(["count"]))
