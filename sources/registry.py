"""The sensor and component registries a mapping declares, and a reading's sensor values as one map column.

A telemetry export has a column per sensor, whichever sensors its machines have. A mapping's
``sensors:`` (on its telemetry feed) says, per source column (a header, or a position in a
headerless file), which sensor it is: the sensor id (the key of its values in ``readings``),
the unit the registry stores it in (an export in another unit names it as ``source_unit`` and
is converted), what it measures, the range a valid reading lies in and the machine types that
report it. Those declarations are the registry: the reader lands them with every drop the
mapping reads (``bronze.sensors`` -> ``silver.dim_sensor``), and a reading outside its
sensor's range breaks the contract (``range``) like any other value.

Components are data in the same way: a mapping's ``components:`` lists each machine type's
components (``bronze.components`` -> ``silver.dim_component``).

In the rows, the sensors' values travel as one ``readings`` map (sensor id -> value): a row
carries the sensors its machine reported, so a new sensor is a line of YAML, not a column of
every table (docs/architecture.md says why a map and what it costs).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

import polars as pl
import pyarrow as pa
from pydantic import BaseModel, ConfigDict, Field, model_validator

from lakehouse import named
from lakehouse.catalog import FLOAT64
from sources import contracts
from sources.contracts import Contract

#: Registry rows of a sensor every machine type of the mapping's plants reports.
ANY_TYPE = "*"
#: Sensor ids are lower-case words: map keys, feature names and SQL identifiers all take them as they are.
SENSOR_ID = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
#: Frame column holding a sensor's typed values between mapping and the readings map.
VALUE_PREFIX = "sensor:"


class SensorMap(BaseModel):
    """One source column as a sensor: its registry entry and how its values are read."""

    model_config = ConfigDict(extra="forbid")

    sensor: str | None = None  # sensor id; default: the source header (a position needs a name)
    unit: str | None = None  # the registry's unit: values are stored in it
    source_unit: str | None = None  # the export's unit, converted to ``unit`` (sources.mapping.UNIT_CONVERSIONS)
    description: str | None = None
    min: float | None = None  # expected range in ``unit``: a reading outside it is quarantined (``range``)
    max: float | None = None
    machine_types: list[str] = Field(default_factory=lambda: [ANY_TYPE])

    @model_validator(mode="after")
    def _check(self) -> SensorMap:
        if self.sensor is not None and not SENSOR_ID.match(self.sensor):
            raise ValueError(f"sensor id {self.sensor!r} must be lower-case letters, digits and _ "
                             "(starting with a letter)")
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"sensor {self.sensor}: min {self.min:g} is above max {self.max:g}")
        if not self.machine_types:
            raise ValueError(f"sensor {self.sensor}: machine_types must name at least one type (or '*')")
        if self.source_unit is not None and self.unit is None:
            raise ValueError(f"sensor {self.sensor}: source_unit {self.source_unit} needs the unit to store it in")
        return self

    def named(self, header: str) -> SensorMap:
        """This declaration with its id (the header when it gives none)."""
        if self.sensor is not None:
            return self
        if not SENSOR_ID.match(header):
            raise ValueError(f"sensor column {header!r} needs a sensor id (sensor: ...): {header!r} is not one")
        return self.model_copy(update={"sensor": header})

    def field(self) -> contracts.Field:
        """The sensor as a contract field of the mapped frame: typed, checked for NaN and its range."""
        return contracts.Field(value_column(self.sensor), FLOAT64, self.description or self.sensor, unit=self.unit,
                               required=False, min=self.min, max=self.max)


def parse(value: SensorMap | str | None) -> SensorMap:
    """A ``sensors:`` entry: a table, just the sensor id, or nothing (the header is the id)."""
    if value is None:
        return SensorMap()
    return value if isinstance(value, SensorMap) else SensorMap(sensor=value)


def value_column(sensor: str) -> str:
    return VALUE_PREFIX + sensor


def registry_rows(sensors: Sequence[SensorMap]) -> list[dict]:
    """The registry rows (``sensors`` master feed) of a feed's declarations: one per sensor and machine type."""
    return [{"sensor_id": s.sensor, "machine_type": machine_type, "unit": s.unit, "description": s.description,
             "expected_min": s.min, "expected_max": s.max}
            for s in sensors for machine_type in s.machine_types]


def component_rows(components: dict[str, list[str] | dict[str, str | None]]) -> list[dict]:
    """The registry rows (``components`` master feed) of a mapping's ``components:`` (per machine type: names,
    or names with a description)."""
    rows = []
    for machine_type, listed in components.items():
        described = listed if isinstance(listed, dict) else dict.fromkeys(listed)
        rows += [{"machine_type": machine_type, "component": name, "description": text}
                 for name, text in described.items()]
    return rows


def checked(spec: Contract, fields: Sequence[contracts.Field]) -> Contract:
    """The contract the rows of a file are checked against: the feed's fields and the file's sensors."""
    return dataclasses.replace(spec, fields=(*spec.fields, *fields)) if fields else spec


def readings(frame: pl.DataFrame) -> pa.Array:
    """The ``readings`` map of each row from its sensor value columns (nulls left out), in column order."""
    columns = {c[len(VALUE_PREFIX):]: frame[c].cast(pl.Float64).to_numpy() for c in frame.columns
               if c.startswith(VALUE_PREFIX)}
    return named.pack(columns, frame.height)


def with_readings(table: pa.Table, frame: pl.DataFrame) -> pa.Table:
    """``table`` (a feed's other columns) with the ``readings`` map of ``frame``'s sensor values."""
    return table.append_column(contracts.READINGS.field(), readings(frame))
