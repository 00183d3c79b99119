"""The figures the issue sets targets for, and the table that shows each beside its target."""

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal


@dataclass(frozen=True)
class Target:
    """One figure of a scenario, with the goal it should meet (None: shown, not judged).

    `label` may name other figures of the same scenario in braces ("{ceiling} inv/s").
    """

    scenario: str
    figure: str
    label: str
    goal: Literal[">=", "<="] | None = None
    value: float = 0.0

    def check(self, figures: Mapping[str, Any]) -> dict[str, Any]:
        measured = figures.get(self.figure)
        met: bool | None = None
        if self.goal is not None and isinstance(measured, int | float):
            met = measured >= self.value if self.goal == ">=" else measured <= self.value
        return {
            "scenario": self.scenario,
            "figure": self.figure,
            "label": self.label.format_map(_Missing(figures)),
            "value": measured,
            "target": f"{self.goal} {self.value:g}" if self.goal else None,
            "met": met,
        }


class _Missing(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return "?"


def table(rows: Sequence[Mapping[str, Any]]) -> str:
    """Rows from `Target.check` as a plain-text table."""
    width = max((len(str(row["label"])) for row in rows), default=10)
    lines = [f"{'figure':{width}}  {'value':>10}  {'target':>9}  met"]
    for row in rows:
        value = row["value"]
        shown = "missing" if value is None else f"{value:g}" if isinstance(value, float) else value
        verdict = {True: "yes", False: "NO", None: ""}[row["met"]]
        lines.append(f"{row['label']:{width}}  {shown!s:>10}  {row['target'] or '-':>9}  {verdict}")
    return "\n".join(lines)


def as_json(rows: Sequence[Mapping[str, Any]]) -> str:
    return json.dumps({"targets": list(rows)}, indent=2, default=str)
