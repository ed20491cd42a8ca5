"""What a dossier costs: the fee items of the procedure version, for the channel used, the
quantities asked for in the form and the applicant's category — pure functions, no database.

Fee items are declared in the catalogue's seed files (``catalog/data/procedures/README.md``):
``amount`` in đồng (null when the amount is not known: that line is shown as "to be announced" and
not charged online), ``unit`` (per copy, page…), ``channel`` (online | in_person: the item applies
to that channel only; in person covers the counter and the post), ``valid_from``/``valid_to``,
``quantity_fields`` (form properties whose product is the quantity, e.g. copies × pages; an
absent or zero quantity charges nothing: "if requested"), ``tiers`` and ``cap`` (the first
quantity field priced by tiers — ``[{from: 1, amount: 2000}, {from: 3, amount: 1000}]``: pages 1–2
at 2,000, from the third at 1,000 — capped at ``cap`` per unit of the other fields; certified
copies, Circular 226/2016/TT-BTC), and ``category_field`` with ``reductions`` — the form property
where the applicant declares the category the fee rule names (the declaration form's own field,
e.g. "Đối tượng nộp phí"; the proof is a document of the dossier the desk checks), and
``[{category, percent, basis}]``: the share waived for each of its values (100 = exempt), with the
legal basis. The version's ``fee_stage`` says when the fee is due (``submission``, the
default, or ``result``).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

CHANNEL_IN_PERSON, CHANNEL_ONLINE, CHANNEL_POST = 1, 2, 3  # dossiers.models.Channel

MAX_QUANTITY = 1000  # a form asking for more copies than this is refused by its schema anyway


@dataclass(frozen=True)
class FeeLine:
    """One line of what is owed. ``amount`` None: the rate is not known to the platform."""

    code: str
    name: str
    name_en: str
    unit_amount: int | None
    quantity: int
    reduction_percent: int
    amount: int | None
    basis: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _applies(item: dict[str, Any], *, channel: int, day: dt.date) -> bool:
    wanted = item.get("channel")
    if wanted == "online" and channel != CHANNEL_ONLINE:
        return False
    if wanted == "in_person" and channel == CHANNEL_ONLINE:
        return False
    start, end = item.get("valid_from"), item.get("valid_to")
    if start and day < dt.date.fromisoformat(str(start)):
        return False
    return not (end and day > dt.date.fromisoformat(str(end)))


def _counts(item: dict[str, Any], form_data: dict[str, Any]) -> list[int] | None:
    """The values of the quantity fields (None: one of them absent or zero — nothing asked for)."""
    counts = []
    for name in item.get("quantity_fields") or []:
        value = form_data.get(name)
        if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
            return None
        counts.append(min(value, MAX_QUANTITY))
    return counts


def _tiered(tiers: list[dict[str, Any]], count: int, cap: int | None) -> int:
    """The price of ``count`` units priced by tiers (each tier from its ``from``-th unit on)."""
    ordered = sorted(tiers, key=lambda t: int(t["from"]))
    total = 0
    for n, tier in enumerate(ordered):
        start = int(tier["from"])
        end = int(ordered[n + 1]["from"]) - 1 if n + 1 < len(ordered) else count
        units = max(0, min(count, end) - start + 1)
        total += units * int(tier["amount"])
    return min(total, cap) if cap else total


def _reduction(item: dict[str, Any], form_data: dict[str, Any]) -> tuple[int, str]:
    category = form_data.get(item.get("category_field") or "")
    for rule in item.get("reductions") or []:
        if isinstance(category, str) and category and rule.get("category") == category:
            return max(0, min(100, int(rule.get("percent", 0)))), str(rule.get("basis", ""))
    return 0, ""


def fees_compute(
    *, items: list[dict[str, Any]], channel: int, form_data: dict[str, Any], day: dt.date
) -> list[FeeLine]:
    """The lines owed, in the order of the items: free items, items of another channel or date, and
    items whose quantity is zero (copies not asked for) are left out; an exempted item stays, at 0,
    so the applicant sees the exemption."""
    lines = []
    for item in items:
        if not _applies(item, channel=channel, day=day):
            continue
        unit_amount = item.get("amount")
        if unit_amount == 0:
            continue
        counts = _counts(item, form_data)
        if counts is None:
            continue
        quantity = 1
        for count in counts:
            quantity *= count
        percent, basis = _reduction(item, form_data)
        amount = None
        if item.get("tiers") and counts:
            gross = _tiered(item["tiers"], counts[0], item.get("cap")) * (quantity // counts[0])
            unit_amount, quantity = gross, 1  # one line: the tiered price of the whole
            amount = gross - gross * percent // 100
        elif unit_amount is not None:
            gross = int(unit_amount) * quantity
            amount = gross - gross * percent // 100
        lines.append(
            FeeLine(
                code=str(item["code"]),
                name=str(item["name"]),
                name_en=str(item.get("name_en") or item["name"]),
                unit_amount=None if unit_amount is None else int(unit_amount),
                quantity=quantity,
                reduction_percent=percent,
                amount=amount,
                basis=basis,
            )
        )
    return lines


def fees_total(lines: list[FeeLine]) -> int:
    """What can be charged: the sum of the lines whose amount is known."""
    return sum(line.amount or 0 for line in lines)


def fee_stage(version_fees_stage: str | None) -> str:
    return "result" if version_fees_stage == "result" else "submission"
