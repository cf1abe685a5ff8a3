"""The network simulator behind ``plantlake simulate``: plant and supplier drops that look like
a real production network, deterministic for a seed, with bad input on request.

Modules: ``config`` (the flags), ``geography`` (plant sites, supplier cities), ``network``
(plants, lines, machines), ``suppliers`` (suppliers, locations, parts, lanes), ``timeline``
(machine histories), ``plantday`` and ``telemetry`` (a plant's date), ``shipments``
(shipments and inspections), ``components`` and ``sensors`` (the behaviour's parameters),
``clock`` and ``seeds`` (time and random streams), ``tables``, ``formats`` and ``drops``
(files and manifests), ``faults`` (``--messy``), ``run`` (whole runs and resends), ``cli``
(the command).
"""

from sources.simulator.config import SimulationConfig
from sources.simulator.run import Simulation, Summary, resend_drop, simulate

__all__ = ["Simulation", "SimulationConfig", "Summary", "resend_drop", "simulate"]
