"""Seed the register of periodic reporting regimes (``ReportingRegime``) with a small, realistic
set so that the plan's target "periodic reports made on the reporting system" can be computed.

DEMO DATA (``sample=True``): the city's real register is the list of regimes the City People's
Committee publishes (Decree 09/2019/NĐ-CP Art. 7: each ministry and province publishes its list of
reporting regimes); it was not available offline. The one regime made on this system is the
platform's own template ``TTHC-THANG`` (``reporting.demo``); the others are regimes that exist in
law (the legal bases are real) but whose reports the city's units send on paper, by e-mail or in a
ministry's system: their frequency, levels and channel here are illustrative. Administrators
replace or complete the rows in the admin site; the migration does not touch rows it did not make.
"""

import datetime as dt

from django.db import migrations

START = dt.date(2021, 1, 1)
NOTE = "Dữ liệu minh hoạ (demo), cần thay bằng danh mục chế độ báo cáo định kỳ do UBND Thành phố công bố."
ALL = ["commune", "district", "city"]
REGIMES = [
    # code, name, name_en, legal basis, issuing body, frequency, levels, reporting units, channel, template
    ("TTHC-THANG", "Báo cáo tình hình giải quyết thủ tục hành chính hằng tháng",
     "Monthly report on the settlement of administrative procedures",
     "Nghị định 09/2019/NĐ-CP; Nghị định 61/2018/NĐ-CP", "UBND Thành phố", "monthly", ALL,
     "UBND cấp xã, cấp huyện, Thành phố", "system", "TTHC-THANG"),
    ("KTXH-THANG", "Báo cáo tình hình kinh tế – xã hội hằng tháng", "Monthly socio-economic report",
     "Nghị định 09/2019/NĐ-CP", "UBND Thành phố", "monthly", ["district", "city"],
     "UBND cấp huyện; các sở, ngành", "email", ""),
    ("CCHC-QUY", "Báo cáo kết quả thực hiện công tác cải cách hành chính",
     "Report on the results of public administration reform",
     "Nghị quyết 76/NQ-CP ngày 15/7/2021 của Chính phủ", "Chính phủ; UBND Thành phố", "quarterly", ALL,
     "UBND cấp xã, cấp huyện; các sở, ngành", "email", ""),
    ("PCTN-QUY", "Báo cáo công tác phòng, chống tham nhũng", "Report on the prevention of corruption",
     "Luật Phòng, chống tham nhũng 2018", "Thanh tra Chính phủ", "quarterly", ["district", "city"],
     "UBND cấp huyện; các sở, ngành", "paper", ""),
    ("TCD-QUY", "Báo cáo công tác tiếp công dân, giải quyết khiếu nại, tố cáo",
     "Report on receiving citizens and handling complaints and denunciations",
     "Luật Tiếp công dân 2013; Luật Khiếu nại 2011; Luật Tố cáo 2018", "Thanh tra Chính phủ", "quarterly", ALL,
     "UBND cấp xã, cấp huyện; các sở, ngành", "paper", ""),
    ("HOTICH-6THANG", "Báo cáo thống kê số liệu đăng ký hộ tịch", "Statistics of civil status registration",
     "Luật Hộ tịch 2014", "Bộ Tư pháp", "half_yearly", ["commune", "district"],
     "UBND cấp xã, cấp huyện", "other_system", ""),
    ("CDS-QUY", "Báo cáo tình hình chuyển đổi số, ứng dụng công nghệ thông tin",
     "Report on digital transformation and the use of IT", "Nghị định 09/2019/NĐ-CP", "UBND Thành phố",
     "quarterly", ["district", "city"], "UBND cấp huyện; các sở, ngành", "email", ""),
]  # fmt: skip


def seed(apps, schema_editor):
    Regime = apps.get_model("reporting", "ReportingRegime")
    for code, name, name_en, basis, body, frequency, levels, units, channel, template in REGIMES:
        Regime.objects.get_or_create(code=code, defaults={
            "name": name, "name_en": name_en, "legal_basis": basis, "issuing_body": body, "frequency": frequency,
            "levels": levels, "reporting_units": units, "channel": channel, "template_code": template,
            "valid_from": START, "sample": True, "note": NOTE,
        })  # fmt: skip


def unseed(apps, schema_editor):
    apps.get_model("reporting", "ReportingRegime").objects.filter(
        code__in=[r[0] for r in REGIMES], sample=True
    ).delete()


class Migration(migrations.Migration):
    dependencies = [("reporting", "0002_reporting_regimes")]

    operations = [migrations.RunPython(seed, unseed)]
