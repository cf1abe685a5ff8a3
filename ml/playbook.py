"""The maintenance playbook: what to do about a component that is about to fail.

Read from YAML (``ml/playbook.yaml`` or ``PLANTLAKE_PLAYBOOK``) so that reliability
engineers change actions and costs without touching code. A component the playbook does
not name gets its ``default`` action, never an error: a new plant's components must not
stop the nightly scoring.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import yaml

#: The playbook shipped with plantlake; PLANTLAKE_PLAYBOOK names another.
DEFAULT_PLAYBOOK = Path(__file__).with_name("playbook.yaml")


@dataclass(frozen=True)
class Action:
    action: str
    duration_h: float
    cost_eur: float


@dataclass(frozen=True)
class Playbook:
    actions: dict[str, Action]
    default: Action
    labour_rate_eur_h: float

    def action_for(self, component: str | None) -> Action:
        return self.actions.get(component or "", self.default)

    @classmethod
    def load(cls, path: str | Path | None = None) -> Playbook:
        path = Path(path or DEFAULT_PLAYBOOK)
        body = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        try:
            actions = {str(k): _action(v) for k, v in (body.get("actions") or {}).items()}
            default = _action(body["default"])
            rate = float(body.get("labour_rate_eur_h", 0.0))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{path}: not a maintenance playbook ({exc}); each action needs action, duration_h "
                             "and cost_eur, and a default action is required") from exc
        return cls(actions, default, rate)


def _action(entry: dict) -> Action:
    cost, duration = float(entry["cost_eur"]), float(entry["duration_h"])
    if cost < 0 or duration < 0:
        raise ValueError(f"negative cost or duration in {entry}")
    return Action(str(entry["action"]), duration, cost)
