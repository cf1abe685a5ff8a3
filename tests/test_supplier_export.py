"""A supplier export no one here wrote, onboarded by its mapping alone (sources/mappings/scms_deliveries.yaml).

The test writes a small file in the shape of the public SCMS delivery history (33 headers, CR-only
line endings, dates as ``2-Jun-06`` and ``6/2/14``, free-text freight, modes to recode, USD with a
rates table, two broken rows), imports it with ``plantlake import``, lands and builds four months of
nights (across a new year) with ``plantlake run --date --to --history`` (one run, in the Dagster instance
``plantlake run`` uses, whose event log writes a range's per-night events together:
orchestration/eventlog.py), and compares the scorecard with a count pandas makes from the raw file.
Nothing else is written by hand: the ship-to plants, suppliers, locations and parts come from the
mapping, and what the export does not say is null in silver and gold. A last night whose rows are all
quarantined fails its check and the run. The backfill is 117 nights, not ten years: it crosses a year
boundary (months, rolling windows and the first-loaded night across it) at a test's cost; the ten-year
history is timed by ``make bench`` (bench/history.py, docs/testing.md).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import io
import os
import re
from collections import Counter

import dagster as dg
import pandas as pd
import pyarrow.compute as pc
import pytest
from typer.testing import CliRunner

from lakehouse.delta import Lake
from lakehouse.settings import Settings, environment, restored_environment
from orchestration.assets.bronze import quarantine_share
from orchestration.cli import app
from orchestration.landing import Landed, LandingReport, known_ids
from sources.landing import list_complete
from sources.reader import read_drop
from sources.simulator import scms

pytestmark = [pytest.mark.spark, pytest.mark.slow]  # 117 nights as one history run: Spark builds the scorecards

FIRST, LAST = dt.date(2012, 12, 3), dt.date(2013, 3, 29)  # two calendar years, 117 nights in one run
LINES, DAYS = 200, 80  # deliveries on 80 of the range's 85 weekdays
MODES = {"Air": "air", "Air Charter": "air", "Truck": "road", "Ocean": "sea"}


def raw_rows(path) -> pd.DataFrame:
    text = path.read_bytes().decode("utf-8").replace("\r", "\n")
    return pd.DataFrame(list(csv.DictReader(io.StringIO(text))))


def day(values: pd.Series) -> pd.Series:
    """The export's dates in either of its formats (what a spreadsheet user would do by hand)."""
    first = pd.to_datetime(values, format="%d-%b-%y", errors="coerce")
    return first.fillna(pd.to_datetime(values, format="%m/%d/%y", errors="coerce"))


@contextlib.contextmanager
def cli_in(home, env: dict[str, str]):
    """The CLI as a user runs it on ``home``: its settings, no other lake, landing zone or tracking store."""
    with environment(env), restored_environment(["MLFLOW_TRACKING_URI", "PLANTLAKE_LAKE_URI",
                                                 "PLANTLAKE_LANDING_URI", "DAGSTER_HOME"]):
        for name in ("MLFLOW_TRACKING_URI", "PLANTLAKE_LAKE_URI", "PLANTLAKE_LANDING_URI"):
            os.environ.pop(name, None)
        os.environ["DAGSTER_HOME"] = str(home / "dagster")
        yield


def import_and_run(home, env: dict[str, str], name: str, night: dt.date, seed: int, changes: dict[str, str],
                   *options: str):
    """A later export of two rows delivered on ``night`` (``changes``: header -> value in both rows), imported and
    run as history through the CLI on ``home``; the run's result."""
    folder = home / name
    folder.mkdir()
    rows = scms.export_rows(2, night, night + dt.timedelta(days=3), 2, seed=seed)
    for fields in rows:
        for header, value in {**changes, "Delivered to Client Date": _dmy(night)}.items():
            fields[scms.HEADERS.index(header)] = value
    (folder / scms.EXPORT_NAME).write_bytes("\r".join([_line(list(scms.HEADERS)), *(_line(r) for r in rows)]
                                                        ).encode("utf-8"))
    with cli_in(home, env):
        assert CliRunner().invoke(app, ["import", "--mapping", "scms_deliveries", "--source", str(folder)]
                                  ).exit_code == 0
        return CliRunner().invoke(app, ["run", "--date", night.isoformat(), "--history", *options])


@pytest.fixture(scope="module")
def onboarded(tmp_path_factory):
    home = tmp_path_factory.mktemp("scms")
    source = home / "export"
    path = scms.write_export(source, LINES, FIRST, LAST, DAYS)
    text = path.read_bytes().decode("utf-8").split("\r")
    for i, line in enumerate(text):  # break two rows as a real export would be broken
        if line.startswith(f"{BAD_QTY_ID},"):
            fields = next(csv.reader([line]))
            fields[scms.HEADERS.index("Line Item Quantity")] = "see note"
            text[i] = _line(fields)
        if line.startswith(f"{BAD_DATE_ID},"):
            fields = next(csv.reader([line]))
            fields[scms.HEADERS.index("Scheduled Delivery Date")] = "31-Feb-13"
            text[i] = _line(fields)
    path.write_bytes("\r".join(text).encode("utf-8"))
    assert b"\n" not in path.read_bytes()  # CR-only line endings
    rates = scms.write_rates(home / "rates.csv", FIRST, LAST)
    env = {"PLANTLAKE_HOME": str(home), "PLANTLAKE_FIRST_DATE": "2011-06-01", "PLANTLAKE_FX_RATES": str(rates),
           "PLANTLAKE_LOG_LEVEL": "WARNING"}
    with cli_in(home, env):
        imported = CliRunner().invoke(app, ["import", "--mapping", "scms_deliveries", "--source", str(source)])
        assert imported.exit_code == 0, imported.output
        # the CLI as a user runs it: a range is one run with one "materialization planned" event per asset
        ran = CliRunner().invoke(app, ["run", "--date", FIRST.isoformat(), "--to", LAST.isoformat(), "--history"])
        assert ran.exit_code == 0 and "warnings" not in ran.output, ran.output
        run_id = re.search(r"run (\S+)\s+succeeded:\s+nights\s.*\(history\)", ran.output, re.S).group(1)
        with dg.DagsterInstance.from_config(str(home / "dagster")) as instance:
            events = instance.all_logs(run_id)
        yield home, env, raw_rows(path), imported.output, events


def _shared_nights(rows: list[list[str]]) -> list[str]:
    """Ids of rows delivered on a night with other rows (a night whose rows all break fails the run)."""
    nights = pd.Series([r[scms.HEADERS.index("Delivered to Client Date")] for r in rows])
    return [r[0] for r, shared in zip(rows, nights.duplicated(keep=False), strict=True) if shared]


#: Rows the test breaks: a quantity that is text, a date that does not exist (each on a night with other rows).
BAD_QTY_ID, BAD_DATE_ID = _shared_nights(scms.export_rows(LINES, FIRST, LAST, DAYS))[2:4]


def _line(fields: list[str]) -> str:
    out = io.StringIO()
    csv.writer(out, lineterminator="").writerow(fields)
    return out.getvalue()


def lake_of(home) -> Lake:
    return Lake(str(home / "lake"), Settings.from_env({"PLANTLAKE_HOME": str(home)}))


def test_every_row_of_the_export_is_accounted_for(onboarded):
    home, _, raw, output, _ = onboarded
    assert f"all {LINES} source rows are in them" in output
    lake = lake_of(home)
    quarantine = lake.read("bronze.quarantine")
    rows = {(r["_source_file"], r["_source_row"]) for r in quarantine.to_pylist()}
    assert lake.count("bronze.shipments") + len(rows) == LINES == len(raw)
    rules = sorted((r["rule"], r["reason"].split(":")[1].strip()) for r in quarantine.to_pylist())
    assert rules == [("type", "ordered_qty (from 'Line Item Quantity') = 'see note' is not a valid integer"),
                     ("type", "promised_at (from 'Scheduled Delivery Date') = '31-Feb-13' is not a valid timestamp "
                      "(%d-%b-%y or %m/%d/%y, local zone UTC)")]
    drops = lake.read("ops.landed_drops").to_pylist()
    assert {d["status"] for d in drops} == {"landed"} and len(drops) == DAYS
    assert all(d["manifest_rows"] == d["bronze_rows"] + d["quarantined_rows"] for d in drops)


def test_values_are_recoded_converted_and_free_text_kept_as_null_with_its_reason(onboarded):
    home, env, raw, _, _ = onboarded
    lake = lake_of(home)
    landed = raw[~raw["ID"].isin([BAD_QTY_ID, BAD_DATE_ID])]
    shipments = lake.read("silver.shipments").to_pandas().set_index("shipment_id")
    assert len(shipments) == len(landed)
    modes = landed["Shipment Mode"].map(MODES)  # "N/A" is not recorded: null
    assert shipments["transport_mode"].value_counts().to_dict() == modes.value_counts().to_dict()
    assert shipments["transport_mode"].isna().sum() == (landed["Shipment Mode"] == "N/A").sum() > 0
    freight = pd.to_numeric(landed["Freight Cost (USD)"], errors="coerce")
    rates = pd.read_csv(env["PLANTLAKE_FX_RATES"], parse_dates=["date"]).sort_values("date")
    delivered = day(landed["Delivered to Client Date"])
    rate = pd.merge_asof(pd.DataFrame({"day": delivered}).reset_index().sort_values("day"), rates,
                         left_on="day", right_on="date").set_index("index")["eur_per_unit"]
    expected = (freight * rate.reindex(landed.index)).round(6)
    got = shipments.loc["SCMS-" + landed["ID"], "freight_cost_eur"].round(6).to_numpy()
    assert list(pd.Series(got).isna()) == list(expected.isna()) and expected.isna().sum() > 0
    assert (abs(pd.Series(got) - expected.to_numpy()).dropna() < 1e-6).all()
    nulled = lake.read("bronze.nulled_values").to_pandas()
    assert len(nulled) == expected.isna().sum() and set(nulled["column"]) == {"freight_cost_eur"}
    texts = set(nulled["value"])
    assert "Freight Included in Commodity Cost" in texts and any(t.startswith("See ASN-") for t in texts)
    assert nulled["reason"].str.contains("is not a number").all()


def test_the_scorecard_equals_a_count_from_the_raw_file_and_nothing_is_invented(onboarded):
    home, _, raw, _, _ = onboarded
    lake = lake_of(home)
    landed = raw[~raw["ID"].isin([BAD_QTY_ID, BAD_DATE_ID])].copy()
    landed["delivered"] = day(landed["Delivered to Client Date"])
    landed["on_time"] = landed["delivered"] <= day(landed["Scheduled Delivery Date"])
    landed["month"] = landed["delivered"].dt.to_period("M").dt.to_timestamp().dt.date
    expected = landed.groupby(["month", "Vendor"]).agg(deliveries=("ID", "size"), on_time=("on_time", "mean"))
    card = lake.read("gold.supplier_scorecard").to_pandas().set_index(["month", "supplier_id"]).sort_index()
    assert len(card) == len(expected)
    assert (card["deliveries"].to_numpy() == expected["deliveries"].to_numpy()).all()
    assert (abs(card["on_time_rate"].to_numpy() - expected["on_time"].to_numpy()) < 1e-12).all()
    for unknown in ("in_full_rate", "lead_time_days_mean", "lead_time_days_std",
                    "premium_freight_shipments", "premium_freight_eur"):
        assert card[unknown].isna().all(), unknown  # no ship date, delivered quantity or premium flag: unknown
    # OTIF is known only for late deliveries (not OTIF whatever the quantity): 0 where a month had one
    late = landed.assign(late=~landed["on_time"]).groupby(["month", "Vendor"])["late"].any()
    assert ((card["otif_rate"] == 0.0).to_numpy() == late.to_numpy()).all()
    assert card["otif_rate"][~late.to_numpy()].isna().all()
    for table, known in (("silver.dim_plant", {"plant_id", "name", "first_seen", "as_of"}),
                         ("silver.dim_supplier", {"supplier_id", "name", "first_seen", "as_of"}),
                         ("silver.dim_supplier_location", {"location_id", "supplier_id", "first_seen", "as_of"}),
                         ("silver.dim_part", {"part_id", "description", "first_seen", "as_of"})):
        dim = lake.read(table)
        assert dim.num_rows > 0
        for name in dim.column_names:
            assert (dim.column(name).null_count == 0) == (name in known), (table, name)
    assert set(lake.read("silver.dim_plant").column("plant_id").to_pylist()) == set(landed["Country"])
    assert set(lake.read("silver.dim_supplier").column("supplier_id").to_pylist()) == set(landed["Vendor"])
    per_night = lake.read("bronze.suppliers").to_pandas().groupby("date").size()
    assert per_night.sum() == landed["Vendor"].nunique()  # each supplier landed once: on its first night
    shipments = lake.read("silver.shipments")
    for unknown in ("shipped_at", "delivered_qty", "premium_freight", "eta"):  # columns the export does not have
        assert shipments.column(unknown).null_count == shipments.num_rows == len(landed), unknown
    rolling = lake.read("gold.supplier_scorecard_90d").to_pandas()
    assert len(rolling) > 0
    for unknown in ("in_full_rate", "lead_time_days_mean", "lead_time_days_std",
                    "premium_freight_shipments", "premium_freight_eur"):
        assert rolling[unknown].isna().all(), unknown
    # every row is a delivery: nothing was ever in transit, so no open shipment and no risk is made up
    assert lake.read("gold.plant_supply_risk", missing_ok=True).num_rows == 0


def test_the_range_is_one_history_run_that_scores_alerts_sends_and_forecasts_nothing(onboarded):
    home, _, _, _, events = onboarded
    of = [e.dagster_event for e in events if e.dagster_event is not None]
    planned = Counter(e.asset_key for e in of if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION_PLANNED)
    materialized = {e.asset_key for e in of if e.event_type == dg.DagsterEventType.ASSET_MATERIALIZATION}
    # --one-event-per-asset is the CLI's default for a range: one planned event per asset, not one per night
    assert len(planned) > 20 and set(planned.values()) == {1}
    scoring = {dg.AssetKey(["gold", t]) for t in ("failure_risk", "maintenance_alerts", "savings_forecast")}
    assert scoring <= set(planned)  # in the run, and skipped by --history: not scored, no alert raised or sent
    assert not scoring & materialized
    assert {dg.AssetKey(["gold", t]) for t in ("supplier_scorecard", "supplier_scorecard_90d")} <= materialized
    assert any("a history run: its nights are not scored" in (e.user_message or "") for e in events)
    lake = lake_of(home)
    assert not any(lake.exists(f"gold.{key.path[-1]}") for key in scoring)


def test_rolling_windows_say_how_much_of_them_the_history_covers(onboarded):
    home, _, _, _, _ = onboarded
    rolling = lake_of(home).read("gold.supplier_scorecard_90d").to_pandas()
    covered = rolling["date"].map(lambda d: min(90, (d - FIRST).days + 1))
    assert (rolling["window_days_covered"] == covered).all()
    assert (rolling["window_complete"] == (covered == 90)).all()
    assert (~rolling["window_complete"]).sum() > 0 and rolling["window_complete"].sum() > 0


def test_a_run_of_the_suppliers_alone_adds_the_ship_to_plants_their_export_names(onboarded):
    """A later night ships to a country no delivery went to before, run as the landing sensor runs a supplier
    drop (``--plants suppliers``): its derived plant reaches silver.dim_plant, not only bronze."""
    home, env, _, _, _ = onboarded
    result = import_and_run(home, env, "new-country", LAST + dt.timedelta(days=5), 6, {"Country": "Atlantis"},
                            "--plants", "suppliers")
    assert result.exit_code == 0, result.output
    lake = lake_of(home)
    assert lake.count("silver.shipments", filters=[("plant_id", "=", "Atlantis")]) == 2
    [plant] = lake.read("silver.dim_plant", filters=[("plant_id", "=", "Atlantis")]).to_pylist()
    assert (plant["name"], plant["country"], plant["timezone"]) == ("Atlantis", None, None)  # the rest unknown


def test_a_night_whose_rows_are_all_quarantined_fails_its_check_and_the_run(onboarded):
    home, env, raw, _, _ = onboarded
    night = LAST + dt.timedelta(days=1)
    result = import_and_run(home, env, "late", night, 5, {"Vendor": ""})  # no supplier: required
    assert result.exit_code == 1, result.output
    assert f"suppliers/date={night}: 2 of 2 rows quarantined, most by rule required (2 rows)" in result.output
    assert "failed" in result.output
    lake = lake_of(home)
    quarantined = lake.read("bronze.quarantine", filters=[("date", "=", night)])
    assert set(pc.unique(quarantined.column("rule")).to_pylist()) == {"required"}
    # PLANTLAKE_QUARANTINE_MAX_SHARE below 1: a drop that quarantined a part of its rows fails the check as well,
    # in one line naming the rule (the night of the row whose quantity is text, read again from the landing zone)
    settings = Settings.from_env({**env, "PLANTLAKE_QUARANTINE_MAX_SHARE": "0.01"})
    bad_night = day(raw.loc[raw["ID"] == BAD_QTY_ID, "Delivered to Client Date"]).iloc[0].date()
    (drop,) = list_complete(settings.landing_uri, [bad_night], settings)
    read = read_drop(drop, known_ids(lake), run_id="share", ingested_at=dt.datetime.now(dt.UTC), settings=settings)
    rules = Counter()
    for feed in read.feeds.values():
        rules.update(feed.rules())
    report = LandingReport(landed=[Landed(drop, read.bronze_rows, read.quarantined_rows, dict(rules))])
    (recorded,) = lake.read("ops.landed_drops", filters=[("date", "=", bad_night)]).to_pylist()
    rows, bad = drop.manifest.rows, recorded["quarantined_rows"]  # as the history run recorded the night
    assert read.quarantined_rows == bad and 0 < bad < rows and bad / rows > settings.orchestration.quarantine_max_share
    check = quarantine_share(report, settings.orchestration.quarantine_max_share)
    assert not check.passed
    assert check.description == (f"suppliers/date={bad_night}: {bad} of {rows} rows quarantined, "
                                 f"most by rule type ({bad} rows)")
    assert quarantine_share(report, Settings.from_env(env).orchestration.quarantine_max_share).passed  # default 1


def _dmy(d: dt.date) -> str:
    return f"{d.day}-{d.strftime('%b-%y')}"
