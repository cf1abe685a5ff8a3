"""Bronze: the landing step, one asset per feed plus the quarantine and the drop bookkeeping.

All bronze tables come from one op because a drop is read once for all its feeds. Three
checks run with it: the reconciliation of every landed drop (blocking: nothing lost,
nothing invented, read back from the lake), whether any complete drop was refused, and
whether any drop quarantined more of its rows than ``PLANTLAKE_QUARANTINE_MAX_SHARE`` allows
(by default: all of them). That last one does not block the other drops' data, which is
good, but it fails the run (``plantlake run`` exits non-zero naming the rule that took most
rows): a night that lands nothing is not a success.
"""

import dagster as dg

from orchestration import partitions
from orchestration.landing import LandingReport, land, reconcile
from orchestration.metadata import asset_spec, check_results, key, materialized
from orchestration.resources import LakeResource, NightScope
from sources.contracts import BRONZE_TABLES
from sources.landing import LANDED_DROPS

#: The landing zone itself: where lineage starts (written by plants and suppliers, not by Dagster).
DROPS = dg.AssetSpec(
    key=["landing", "drops"],
    description="Plant and supplier drops in the landing zone: plant=<id>/date=<D>/ and suppliers/date=<D>/, "
    "each complete once its _manifest.json is present. Written by the plants' exports and the supplier portal.",
    group_name="landing",
    kinds={"files"},
)

RECONCILIATION = dg.AssetCheckSpec(
    "manifest_reconciliation",
    asset=key(LANDED_DROPS),
    blocking=True,
    description="For every drop landed in the run: manifest rows = bronze rows + quarantined rows, read back "
    "from the lake.",
)
QUARANTINE_SHARE = dg.AssetCheckSpec(
    "quarantine_share",
    asset=key(LANDED_DROPS),
    description="No drop of the run quarantined more of its rows than PLANTLAKE_QUARANTINE_MAX_SHARE allows "
    "(default 1: fails only a drop that landed none of its rows); fails the run, not the other drops' data.",
)
ACCEPTED = dg.AssetCheckSpec(
    "drops_accepted",
    asset=key(LANDED_DROPS),
    description="No complete drop of the run's nights was refused (a refused drop keeps its previous data).",
)


def _md_table(rows: list[dict]) -> dg.MetadataValue:
    if not rows:
        return dg.MetadataValue.md("_none_")
    names = list(rows[0])
    lines = ["| " + " | ".join(names) + " |", "|" + "---|" * len(names)]
    lines += ["| " + " | ".join(str(r[n]) for n in names) + " |" for r in rows]
    return dg.MetadataValue.md("\n".join(lines))


def landing_asset(partitions_def: dg.PartitionsDefinition) -> dg.AssetsDefinition:
    """The landing step: complete drops of the run's nights -> bronze, quarantine and ops.landed_drops."""

    @dg.multi_asset(
        name="landing",
        specs=[
            spec.replace_attributes(deps=[DROPS.key])
            for spec in [
                *(asset_spec(t, {"polars"}) for t in BRONZE_TABLES),
                asset_spec(LANDED_DROPS, {"polars"}, group="bronze"),
            ]
        ],
        # partitioned like the assets: each night of a run records the checks' result (metadata.check_results)
        check_specs=[c._replace(partitions_def=partitions_def) for c in (RECONCILIATION, ACCEPTED, QUARANTINE_SHARE)],
        partitions_def=partitions_def,
        backfill_policy=partitions.single_run,
        description="Complete drops of the run's nights -> typed bronze rows, quarantine and ops.landed_drops.",
    )
    def landing(context: dg.AssetExecutionContext, lake: LakeResource, scope: NightScope):
        yield from land_nights(context, lake, scope)

    return landing


def land_nights(context: dg.AssetExecutionContext, lake: LakeResource, scope: NightScope):
    """Land the run's nights, then report each table and the two checks."""
    dates = partitions.dates(context)
    the_lake = lake.lake()
    report: LandingReport = land(
        the_lake, lake.landing, dates, scope.sources, run_id=context.run_id, reland=scope.reland,
        buffer_rows=lake.landing_buffer_rows, threads=lake.landing_threads,
    )
    landed = [entry.drop for entry in report.landed]
    for spec in [*BRONZE_TABLES, LANDED_DROPS]:
        extra = {"rows_this_run": dg.MetadataValue.int(report.rows.get(spec.name, 0))}
        if spec is LANDED_DROPS:
            extra.update(drops_landed=len(landed), drops_rejected=len(report.rejected))
        filters = {d.ref.date for d in landed} or set(dates)
        version = report.versions.get(spec.name, the_lake.version(spec))
        yield materialized(the_lake, spec, version, _slices(spec, filters), extra)
    reconciled = reconcile(the_lake, landed)
    failing = [r for r in reconciled if not r["reconciles"]]
    yield from check_results(context, dg.AssetCheckResult(
        check_name=RECONCILIATION.name,
        asset_key=RECONCILIATION.asset_key,
        passed=not failing,
        description=f"{len(reconciled) - len(failing)} of {len(reconciled)} drops reconcile",
        metadata={"drops": _md_table(reconciled), "failing_drops": len(failing)},
    ))
    yield from check_results(context, quarantine_share(report, lake.settings().orchestration.quarantine_max_share))
    yield from check_results(context, dg.AssetCheckResult(
        check_name=ACCEPTED.name,
        asset_key=ACCEPTED.asset_key,
        passed=not report.rejected,
        severity=dg.AssetCheckSeverity.WARN,
        description=f"{len(report.rejected)} drops refused",
        metadata={"refused": _md_table([{"drop": d.drop_id, "reason": reason} for d, reason in report.rejected])},
    ))


def _slices(spec, dates):
    from lakehouse.slices import Slices

    return Slices.of(spec, {d: None for d in dates})


def quarantine_share(report: LandingReport, max_share: float) -> dg.AssetCheckResult:
    """The check of the drops' quarantined shares: its description is one line per failing drop (at most 5)."""
    bad = [entry for entry in report.landed if entry.too_bad(max_share)]
    lines = [entry.summary() for entry in bad[:5]] + ([f"and {len(bad) - 5} more drops"] if len(bad) > 5 else [])
    return dg.AssetCheckResult(
        check_name=QUARANTINE_SHARE.name,
        asset_key=QUARANTINE_SHARE.asset_key,
        passed=not bad,
        description="; ".join(lines) if bad else f"every drop within the quarantine share {max_share:g}",
        metadata={
            "max_share": dg.MetadataValue.float(float(max_share)),
            "failing_drops": len(bad),
            "drops": _md_table([{"drop": e.drop.drop_id, "rows": e.drop.manifest.rows,
                                 "quarantined": e.quarantined_rows, "share": f"{e.quarantined_share:.0%}",
                                 "rules": ", ".join(f"{r} {n}" for r, n in sorted(e.rules.items(),
                                                                                  key=lambda kv: -kv[1]))}
                                for e in bad[:50]]),
        },
    )
