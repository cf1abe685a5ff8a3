"""Decoding files into rows and typing their values: line endings, BOM, gzip, quotes, time zones."""

from __future__ import annotations

import datetime as dt
import gzip
import zoneinfo

import numpy as np
import polars as pl
import pytest
from polars.testing import assert_series_equal

from lakehouse.catalog import BOOL, FLOAT64, INT64, TIMESTAMP
from sources import parse
from sources.decode import FileProblem, decode, split_lines
from sources.mapping import Dialect

UTC = dt.UTC
CSV = b"a,b\n" + b"".join(b"%d,%d\n" % (i, i * i) for i in range(2000))
TRUNCATED = gzip.compress(CSV)[: len(gzip.compress(CSV)) - 20]  # the end of the stream and its checksum are cut


QUOTE = ord('"')


def lines(buf: bytes, quote: int | None = QUOTE) -> list[bytes]:
    starts, ends = split_lines(buf, quote)
    return [buf[s:e] for s, e in zip(starts, ends, strict=True)]


@pytest.mark.parametrize("eol", [b"\n", b"\r\n", b"\r"])
def test_lines_end_with_lf_crlf_or_cr_alone(eol):
    buf = eol.join([b"a,b", b"1,2", b"3,4"]) + eol
    assert lines(buf) == [b"a,b", b"1,2", b"3,4"]


def test_blank_lines_are_not_rows_and_quoted_newlines_do_not_end_a_row():
    buf = b'a,b\n\n1,"x\ny"\n"say ""hi""",2\n\n'
    assert lines(buf) == [b"a,b", b'1,"x\ny"', b'"say ""hi""",2']
    assert lines(b'{"a": "x\\"y"}\n{"a": 1}', quote=None) == [b'{"a": "x\\"y"}', b'{"a": 1}']


@pytest.mark.parametrize(
    "data",
    [
        b"\xef\xbb\xbfmachine_id,value\nM1,1.5\nM2,2\n",  # UTF-8 byte-order mark
        b"machine_id,value\rM1,1.5\rM2,2\r",  # CR-only (classic Mac) line endings
        b"machine_id,value\r\nM1,1.5\r\nM2,2",  # CRLF, no final newline
        b"machine_id,value\n\nM1,1.5\n\nM2,2\n\n",  # blank lines
    ],
    ids=["bom", "cr-only", "crlf", "blank-lines"],
)
def test_csv_variants_decode_to_the_same_rows(data):
    decoded = decode("t.csv", data, Dialect())
    assert decoded.headers == ["machine_id", "value"]
    assert decoded.frame.to_dicts() == [{"machine_id": "M1", "value": "1.5"}, {"machine_id": "M2", "value": "2"}]
    assert decoded.n_rows == 2 and decoded.raw([0, 1]) == ["M1,1.5", "M2,2"]


def test_rows_with_the_wrong_field_count_are_malformed_and_keep_their_line():
    decoded = decode("t.csv", b"a,b,c\n1,2,3\n4,5\n6,7,8,9\n10,11,12\n", Dialect())
    assert decoded.n_rows == 4
    assert decoded.malformed == {1: "row has 2 fields, the header has 3", 2: "row has 4 fields, the header has 3"}
    assert decoded.rows.tolist() == [0, 3]
    assert decoded.raw(np.array([1, 2])) == ["4,5", "6,7,8,9"]


def test_a_short_row_is_malformed_on_the_fast_path_too():
    decoded = decode("t.csv", b"a,b,c\n1,2,3\n4,5\n", Dialect())
    assert decoded.malformed == {1: "row has 2 fields, the header has 3"} and decoded.rows.tolist() == [0]


def test_latin1_semicolon_and_quotes():
    data = "Maschine;Temperatur_°C\n\"M;1\";21,5\nM2;-\n".encode("latin-1")
    decoded = decode("t.csv", data, Dialect(delimiter=";", decimal=",", encoding="latin-1"))
    assert decoded.frame.to_dicts() == [{"Maschine": "M;1", "Temperatur_°C": "21,5"},
                                        {"Maschine": "M2", "Temperatur_°C": "-"}]


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("t.csv", b"", "empty file"),
        ("t.csv.gz", TRUNCATED, "truncated or corrupt gzip"),
        ("t.csv.gz", b"not gzip at all", "truncated or corrupt gzip"),
        ("t.csv", b"a,a\n1,2\n", "header names a more than once"),
        ("t.csv", b"\n\n", "no header line"),
        ("t.parquet", b"PAR1 nonsense", "not a readable Parquet file"),
        ("t.csv", "é,b\n".encode("utf-16"), "not valid utf-8"),
        ("t.xlsx", b"a\n", "cannot tell the format"),
    ],
)
def test_unreadable_files_are_problems_of_the_whole_file(name, data, message):
    with pytest.raises(FileProblem, match=message):
        decode(name, data, Dialect())


def test_json_lines_with_mixed_types_and_bad_lines():
    data = b'{"a": 1, "b": "x"}\n{"a": "abc", "c": true}\nnot json\n[1, 2]\n{"a": NaN}\n'
    decoded = decode("t.jsonl", data, Dialect())
    assert decoded.headers == ["a", "b", "c"]
    assert decoded.frame.to_dicts() == [{"a": "1", "b": "x", "c": None}, {"a": "abc", "b": None, "c": "true"},
                                        {"a": "nan", "b": None, "c": None}]
    assert sorted(decoded.malformed) == [2, 3] and decoded.rows.tolist() == [0, 1, 4]
    assert decoded.raw([3]) == ["[1, 2]"]


# -- typing -------------------------------------------------------------------------------------
def ts(*args) -> dt.datetime:
    return dt.datetime(*args, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "zone", "expected"),
    [
        ("2026-01-05T08:00:00Z", "Europe/Berlin", ts(2026, 1, 5, 8)),
        ("2026-01-05 08:00:00", "Europe/Berlin", ts(2026, 1, 5, 7)),  # naive: the dialect's (plant's) zone
        ("2026-01-05T08:00", "UTC", ts(2026, 1, 5, 8)),
        ("2026-01-05T08:00:00.250+02:00", "UTC", ts(2026, 1, 5, 6, 0, 0, 250000)),
        ("2026-01-05T08:00:00-0530", "UTC", ts(2026, 1, 5, 13, 30)),
        ("2026-07-05T08:00:00", "Europe/Berlin", ts(2026, 7, 5, 6)),  # summer time
        ("2026-10-25T02:30:00", "Europe/Berlin", ts(2026, 10, 25, 0, 30)),  # ambiguous: the earlier instant
        ("2026-03-29T02:30:00", "Europe/Berlin", None),  # skipped by the clock change: does not exist
        ("2026-02-30T08:00:00", "UTC", None),
        ("31.02.2026", "UTC", None),
        ("yesterday", "UTC", None),
    ],
)
def test_iso_timestamps_become_utc(text, zone, expected):
    assert parse.to_timestamp(pl.Series([text]), "iso", zone).to_list() == [expected]


def test_strftime_timestamps_and_dates():
    got = parse.to_timestamp(pl.Series(["05.01.2026 08:00", "31.02.2026 08:00", "05.07.2026 08:00"]),
                             "%d.%m.%Y %H:%M", "Europe/Berlin")
    assert got.to_list() == [ts(2026, 1, 5, 7), None, ts(2026, 7, 5, 6)]
    assert parse.to_date(pl.Series(["05.01.2026", "31.02.2026"]), "%d.%m.%Y").to_list() == [dt.date(2026, 1, 5), None]


def test_numbers_booleans_and_nulls():
    assert parse.to_float(pl.Series(["1,5", "NaN", "-inf", "abc"]), ",").to_list()[2:] == [float("-inf"), None]
    assert parse.to_int(pl.Series(["12", "12.0", "12.5", "x"])).to_list() == [12, 12, None, None]
    assert parse.to_bool(pl.Series(["ja", "nein", "vielleicht"]), ["ja"], ["nein"]).to_list() == [True, False, None]
    assert parse.as_text(pl.Series([" M1 ", "NA", "-"]), ["NA", "-"]).to_list() == ["M1", None, None]


def test_templates_and_ages():
    ids = parse.apply_template(pl.Series(["7", "20", None]), "US-AZ1-M{value:0>3}")
    assert ids.to_list() == ["US-AZ1-M007", "US-AZ1-M020", None]
    assert parse.apply_template(pl.Series(["7", "x"]), "M{value:03d}").to_list() == ["M007", None]
    born = parse.years_before(pl.Series(["18", "0", "1.5", "old"]), dt.date(2016, 2, 29))
    assert born.to_list() == [dt.date(1998, 2, 28), dt.date(2016, 2, 29), dt.date(2014, 8, 30), None]


def test_distinct_values_are_typed_once_and_mapped_back():
    values = pl.Series(["2026-01-05T00:00:00Z", "2026-01-05T00:01:00Z"] * 5000 + [None])
    got = parse.to_timestamp(values, "iso", "UTC")
    assert got.len() == 10001 and got.null_count() == 1 and got[1] == ts(2026, 1, 5, 0, 1)


@pytest.mark.parametrize(
    ("arrow", "values", "dialect"),
    [
        (FLOAT64, ["1.5", " 2.5 ", "NA", "", "abc", None, "3", "NaN"], Dialect()),
        (INT64, ["12", " 13", "12.0", "12.5", "null", "", "x"], Dialect()),
        (TIMESTAMP, ["2026-01-05T08:00:00Z", " 2026-01-05T08:01:00Z ", "NULL", "", "31/02/2026"], Dialect()),
        (BOOL, ["true", " false ", "NA", "maybe"], Dialect()),
        (FLOAT64, ["-999", " -999 ", "4", "n/a"], Dialect(null_tokens=["-999", "n/a"])),  # a token that is a number
    ],
)
def test_typing_values_as_delivered_gives_what_stripping_every_value_first_gives(arrow, values, dialect):
    source = pl.Series("v", values * 400, dtype=pl.String)  # above parse.SMALL: the distinct-value path too
    careful = parse.as_text(source, dialect.null_tokens)
    typed, text = parse.typed_text(source, arrow, dialect, "Europe/Berlin")
    assert_series_equal(typed, parse.typed(careful, arrow, dialect, "Europe/Berlin"), check_names=False)  # NaN = NaN
    # the type rule reads the text: null exactly where the value was empty or a null token
    assert text.is_null().to_list() == careful.is_null().to_list()
    assert source.to_list() == values * 400  # the decoded frame's column is left as it was


def test_an_instant_literal_is_the_aware_datetime_in_utc_microseconds():
    berlin = dt.datetime(2026, 3, 29, 3, 30, 0, 123456, tzinfo=zoneinfo.ZoneInfo("Europe/Berlin"))
    frame = pl.DataFrame({"at": [berlin.astimezone(UTC)]}, schema={"at": parse.UTC_TS})
    got = frame.select(lit=parse.instant(berlin), equal=pl.col("at") == parse.instant(berlin),
                       later=pl.col("at") < parse.instant(berlin + dt.timedelta(microseconds=1)))
    assert got.schema["lit"] == parse.UTC_TS
    assert got.row(0) == (berlin.astimezone(UTC), True, True)
    with pytest.raises(ValueError, match="no time zone"):
        parse.instant(dt.datetime(2026, 1, 1))
