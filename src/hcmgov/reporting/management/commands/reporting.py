"""``hcmgov reporting``: the reporting cycle from the command line — ``periods`` (the periods
opened, or with ``--dates KEY`` a period's cut-off window and deadlines, Decree 09/2019/NĐ-CP),
``demo`` (load the demo template), ``open TEMPLATE PERIOD`` (open a period: the units' reports,
prefilled), ``refill TEMPLATE PERIOD`` (read again the figures the platform knows, in the
reports still being drafted), ``status TEMPLATE PERIOD`` (reports per status), ``late TEMPLATE PERIOD`` (the late
units) and ``send`` (the approved city reports due to the national reporting system, as the
worker does)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError

from hcmgov.common import context
from hcmgov.common.errors import DomainError
from hcmgov.reporting import demo, national, selectors, services
from hcmgov.reporting.models import EDITABLE
from hcmgov.reporting.periods import period_dates


class Command(BaseCommand):
    help = "Báo cáo định kỳ / periodic reports: periods, demo, open, refill, status, late, send."

    def add_arguments(self, parser: Any) -> None:
        actions = parser.add_subparsers(
            dest="action", required=True, metavar="{periods,demo,open,refill,status,late,send}"
        )
        periods = actions.add_parser("periods", help="Các kỳ đã mở / the periods opened.")
        periods.add_argument("--dates", default="", metavar="KEY", help="Ngày của một kỳ / a period's dates.")
        actions.add_parser("demo", help="Nạp mẫu báo cáo mẫu / load the demo template.")
        for name, text in (
            ("open", "Mở kỳ báo cáo / open a period."),
            ("refill", "Điền lại số liệu hệ thống biết / refill the figures the platform knows."),
            ("status", "Báo cáo theo trạng thái / reports per status."),
            ("late", "Đơn vị chậm báo cáo / late units."),
        ):
            sub = actions.add_parser(name, help=text)
            sub.add_argument("template")
            sub.add_argument("period")
            if name == "open":
                sub.add_argument("--structure", default=None, help="2021 | 2025 (mặc định: theo ngày / by date)")
        actions.add_parser("send", help="Gửi báo cáo lên hệ thống quốc gia / send to the national system.")

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        with context.acting_as(context.Actor.system("cli")):
            try:
                getattr(self, f"do_{action}")(**options)
            except DomainError as exc:
                raise CommandError(f"{exc.message.vi} / {exc.message.en}") from exc

    def do_periods(self, *, dates: str, **_: Any) -> None:
        if dates:
            try:
                found = period_dates(dates)
            except ValueError as exc:
                raise CommandError(str(exc)) from exc
            self.stdout.write(f"{found.key} ({found.kind}): {found.start} – {found.end}")
            self.stdout.write(f"Chốt số liệu / cut-off: {found.cutoff_start} – {found.cutoff_end}")
            for level in ("commune", "district", "city"):
                self.stdout.write(f"Hạn gửi / deadline {level}: {found.deadline(level)}")
            return
        for period in selectors.period_list():
            counts = selectors.period_status(period=period)
            shown = ", ".join(f"{k} {v}" for k, v in counts.items() if v)
            self.stdout.write(f"{period.template.code:<16} {period.key:<9} {period.structure_key}  {shown}")

    def do_demo(self, **_: Any) -> None:
        template = demo.demo_template_load()
        self.stdout.write(f"Mẫu / template {template.code}: {template.lines.count()} chỉ tiêu / indicators")

    def do_open(self, *, template: str, period: str, structure: str | None, **_: Any) -> None:
        opened = services.period_open(template=selectors.template_get(code=template), key=period, structure=structure)
        count = opened.reports.count()
        self.stdout.write(f"Đã mở / opened {template} {period} ({opened.structure_key}): {count} báo cáo / reports")

    def do_refill(self, *, template: str, period: str, **_: Any) -> None:
        found = selectors.period_get(template_code=template, key=period)
        count = 0
        for report in selectors.report_list(period=found).filter(status__in=EDITABLE):
            services.report_refill(report=report)
            count += 1
        self.stdout.write(f"Đã điền lại / refilled: {count} báo cáo / reports")

    def do_status(self, *, template: str, period: str, **_: Any) -> None:
        found = selectors.period_get(template_code=template, key=period)
        for status, count in selectors.period_status(period=found).items():
            self.stdout.write(f"{status:<10} {count}")

    def do_late(self, *, template: str, period: str, **_: Any) -> None:
        found = selectors.period_get(template_code=template, key=period)
        for report in selectors.late_reports(period=found):
            sent = report.first_submitted_at.isoformat() if report.first_submitted_at else "chưa gửi / not sent"
            self.stdout.write(f"{report.unit_code:<6} {report.unit_name:<40} hạn / due {report.deadline}  {sent}")

    def do_send(self, **_: Any) -> None:
        if not national.national_enabled():
            raise CommandError("Chưa cấu hình / not configured: HCMGOV_REPORTING_NATIONAL_URL")
        done = national.national_export_send()
        self.stdout.write(f"sent {done.sent} (duplicates {done.duplicates}), failed {done.failed}, dead {done.dead}")
