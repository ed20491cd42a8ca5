"""The demo template: the monthly report on the settlement of administrative procedures (dossiers
received, finished, finished on time, and the on-time rate as a ratio), prefilled from the
dossiers the platform holds. ``hcmgov demo`` may call :func:`demo_template_load` (idempotent).

The indicators follow the reporting of one-stop-shop results (Decree 61/2018/NĐ-CP, Circular
01/2018/TT-VPCP); the codes and the split into these five figures are ours."""

from __future__ import annotations

from hcmgov.reporting import services
from hcmgov.reporting.models import ReportTemplate

TEMPLATE = "TTHC-THANG"


def demo_template_load() -> ReportTemplate:
    """Create (or update) the demo indicators and template."""
    services.indicator_upsert(
        code="hs_tiep_nhan", name="Số hồ sơ tiếp nhận", name_en="Dossiers received", type="integer",
        unit="hồ sơ", min_value=0, aggregation="sum", prefill="dossiers_received",
    )  # fmt: skip
    services.indicator_upsert(
        code="hs_da_giai_quyet", name="Số hồ sơ đã giải quyết", name_en="Dossiers finished", type="integer",
        unit="hồ sơ", min_value=0, aggregation="sum", prefill="dossiers_finished",
    )  # fmt: skip
    services.indicator_upsert(
        code="hs_dung_han", name="Số hồ sơ giải quyết đúng hạn", name_en="Dossiers finished on time",
        type="integer", unit="hồ sơ", min_value=0, aggregation="sum", prefill="dossiers_finished_on_time",
    )  # fmt: skip
    services.indicator_upsert(
        code="hs_qua_han", name="Số hồ sơ giải quyết quá hạn", name_en="Dossiers finished late", type="integer",
        unit="hồ sơ", min_value=0, aggregation="sum",
    )  # fmt: skip
    services.indicator_upsert(
        code="ty_le_dung_han", name="Tỷ lệ giải quyết đúng hạn", name_en="On-time rate", type="percent",
        unit="%", min_value=0, max_value=100, aggregation="ratio", numerator="hs_dung_han",
        denominator="hs_da_giai_quyet",
    )  # fmt: skip
    services.indicator_upsert(
        code="ghi_chu", name="Ghi chú", name_en="Remarks", type="text", aggregation="none",
    )  # fmt: skip
    return services.template_upsert(
        code=TEMPLATE,
        name="Báo cáo tình hình giải quyết thủ tục hành chính hằng tháng",
        name_en="Monthly report on the settlement of administrative procedures",
        period_kind="monthly",
        indicators=["hs_tiep_nhan", "hs_da_giai_quyet", "hs_dung_han", "hs_qua_han", "ty_le_dung_han", "ghi_chu"],
        rules_data=[
            {"kind": "sum", "total": "hs_da_giai_quyet", "parts": ["hs_dung_han", "hs_qua_han"]},
            {"kind": "lte", "left": "hs_da_giai_quyet", "right": "hs_tiep_nhan"},
        ],
        levels=["commune", "district", "city"],
        legal_basis="Nghị định 09/2019/NĐ-CP; Nghị định 61/2018/NĐ-CP",
        optional=["ghi_chu"],
    )
