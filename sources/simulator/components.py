"""Machine components: what a failure and a preventive action of each one cost and take.

One small table so that the simulator, the failure-cost model and the maintenance
playbook (a later issue) agree on the same numbers. Money is EUR, durations hours.
Labour is charged at the plant's labour rate (``Plant.labour_rate_eur_h``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Component:
    name: str
    code: str  # short code used in alarm and work-order codes
    alarm: str  # alarm code raised while this component degrades
    repair_hours: float  # machine downtime of a corrective repair after a failure
    repair_parts_eur: float
    repair_labour_h: float
    pm_hours: float  # machine downtime of its preventive action
    pm_parts_eur: float
    pm_labour_h: float
    failure_modes: tuple[str, ...]

    def repair_cost_eur(self, labour_rate_eur_h: float) -> float:
        """Parts and labour of a corrective repair (downtime not included)."""
        return self.repair_parts_eur + self.repair_labour_h * labour_rate_eur_h

    def preventive_cost_eur(self, labour_rate_eur_h: float) -> float:
        """Parts and labour of the preventive action (done when the plant does not produce)."""
        return self.pm_parts_eur + self.pm_labour_h * labour_rate_eur_h

    def failure_cost_eur(self, downtime_cost_eur_h: float, labour_rate_eur_h: float) -> float:
        """Expected cost of an unplanned failure: downtime at the machine's rate plus the repair."""
        return self.repair_hours * downtime_cost_eur_h + self.repair_cost_eur(labour_rate_eur_h)


COMPONENTS: dict[str, Component] = {
    c.name: c
    for c in (
        Component("spindle", "SPN", "SPN-LOAD-HI", 12.0, 18000.0, 16.0, 2.0, 600.0, 2.0,
                  ("wear", "imbalance", "overheating")),
        Component("bearing", "BRG", "BRG-VIB-HI", 6.0, 2500.0, 8.0, 1.0, 180.0, 1.0,
                  ("wear", "fatigue", "lubrication")),
        Component("motor", "MOT", "MOT-TEMP-HI", 8.0, 6000.0, 10.0, 1.0, 250.0, 1.0,
                  ("overheating", "winding_short", "overload")),
        Component("hydraulics", "HYD", "HYD-PRES-LO", 5.0, 3500.0, 7.0, 1.5, 400.0, 2.0,
                  ("leak", "pump_wear", "valve_stuck")),
        Component("gearbox", "GBX", "GBX-VIB-HI", 10.0, 9000.0, 12.0, 1.0, 300.0, 1.5,
                  ("wear", "tooth_break", "lubrication")),
        Component("nozzle", "NOZ", "NOZ-PRES-LO", 2.0, 800.0, 2.0, 0.5, 120.0, 0.5,
                  ("clogging", "wear")),
        Component("belt", "BLT", "BLT-SLIP", 3.0, 900.0, 4.0, 0.5, 150.0, 0.5,
                  ("wear", "misalignment", "tear")),
        Component("controller", "CTL", "CTL-COMM-ERR", 4.0, 4000.0, 5.0, 0.5, 50.0, 0.5,
                  ("firmware_fault", "board_failure", "communication_loss")),
    )
}

#: Components in a fixed order: the simulator refers to them by index.
NAMES: tuple[str, ...] = tuple(COMPONENTS)

#: Share of downtime cost per hour a machine causes, by criticality (A stops its line).
CRITICALITY_FACTOR = {"A": 1.0, "B": 0.35, "C": 0.08}


def component(name: str) -> Component:
    try:
        return COMPONENTS[name]
    except KeyError:
        raise KeyError(f"unknown component {name!r}; components are {', '.join(COMPONENTS)}") from None
