"""``hcmgov opendata harvest [SOURCE]``: harvest one source (by name), or every active source now,
and print what was created, updated and withdrawn, in Vietnamese then English."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov.common import context
from hcmgov.opendata import harvest
from hcmgov.opendata.models import HarvestSource


def report_lines(report: dict[str, Any]) -> list[str]:
    """A harvest report as people read it: Vietnamese, then English."""
    head = f"{report['source']} ({report['kind']}, {report['url']})"
    if not report["ok"]:
        error = report["error"] or {}
        return [f"{head}: thất bại, không thay đổi gì / failed, nothing changed",
                f"  {error.get('vi', '')}", f"  {error.get('en', '')}"]  # fmt: skip
    counts = {k: len(report[k]) for k in ("created", "updated", "unchanged", "withdrawn", "skipped")}
    lines = [
        head,
        f"  Nguồn liệt kê {report['listed']}: tạo mới {counts['created']}, cập nhật {counts['updated']}, "
        f"không đổi {counts['unchanged']}, rút {counts['withdrawn']}, bỏ qua {counts['skipped']}",
        f"  Listed {report['listed']}: created {counts['created']}, updated {counts['updated']}, "
        f"unchanged {counts['unchanged']}, withdrawn {counts['withdrawn']}, skipped {counts['skipped']}",
    ]
    for key, label in (("created", "Tạo mới / Created"), ("updated", "Cập nhật / Updated"),
                       ("withdrawn", "Rút / Withdrawn")):  # fmt: skip
        if report[key]:
            lines.append(f"  {label}: {', '.join(report[key])}")
    for item in report["skipped"]:
        lines.append(f"  Bỏ qua / Skipped {item.get('guid', '')}: {item.get('reason', '')}")
    return lines


class Command(BaseCommand):
    help = "Open data catalogue: `harvest [SOURCE]` harvests a source (all active sources without one)."

    def add_arguments(self, parser: Any) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        run = sub.add_parser("harvest", help="Harvest a source now (by name), or every active source.")
        run.add_argument("source", nargs="?", default="", help="The harvest source's name.")

    def handle(self, *args: Any, action: str = "", source: str = "", **options: Any) -> None:
        if source:
            found = HarvestSource.objects.select_related("organization").filter(name=source).first()
            if found is None:
                raise CommandError(f"Không có nguồn thu thập {source} / No harvest source named {source}")
            sources = [found]
        else:
            sources = list(HarvestSource.objects.select_related("organization").filter(active=True).order_by("name"))
            if not sources:
                self.stdout.write("Chưa có nguồn thu thập nào / No active harvest source")
        failed = 0
        with context.acting_as(context.Actor.system("opendata-harvest")):
            for item in sources:
                report = harvest.harvest_source_run(source=item)
                failed += not report["ok"]
                self.stdout.write("\n".join(report_lines(report)))
        if failed:
            raise CommandError(f"{failed} nguồn thất bại / {failed} source(s) failed")
