"""The default alert rules of the IoT pilot (issue 11): the hourly VN_AQI above 150 (level 4,
"Xấu", Decision 1459/QĐ-TCMT Table 1) for a full hour at a station, and a road segment congested
or worse (``iot.traffic``) for three consecutive 5-minute intervals. Rules are rows the
administrators change; this migration only makes the ones that are missing."""

from django.db import migrations

DEFAULTS = [
    {
        "code": "aqi-above-150-1h",
        "kind": "aqi",
        "name": "VN_AQI trên 150 trong một giờ",
        "name_en": "VN_AQI above 150 for an hour",
        "threshold": 150.0,
        "level": "",
        "intervals": 1,
    },
    {
        "code": "congested-15min",
        "kind": "congestion",
        "name": "Đoạn đường ùn tắc 15 phút liên tục",
        "name_en": "Road segment congested for 15 minutes",
        "threshold": 0.0,
        "level": "congested",
        "intervals": 3,
    },
]


def create(apps, schema_editor):
    AlertRule = apps.get_model("iot", "AlertRule")
    for rule in DEFAULTS:
        AlertRule.objects.get_or_create(code=rule["code"], defaults=rule)


def remove(apps, schema_editor):
    apps.get_model("iot", "AlertRule").objects.filter(code__in=[r["code"] for r in DEFAULTS]).delete()


class Migration(migrations.Migration):
    dependencies = [("iot", "0002_derived_alerts_mirror_days")]

    operations = [migrations.RunPython(create, remove)]
