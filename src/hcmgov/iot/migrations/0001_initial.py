"""Devices, readings (partitioned by day on PostgreSQL), rollups, quarantine."""

import django.db.models.deletion
from django.db import migrations, models

PARTITIONED = """
CREATE TABLE iot_reading (
    device_id bigint NOT NULL,
    attribute varchar(16) NOT NULL,
    observed_at timestamptz NOT NULL,
    value double precision NOT NULL,
    received_at timestamptz NOT NULL,
    PRIMARY KEY (device_id, attribute, observed_at)
) PARTITION BY RANGE (observed_at);
CREATE INDEX iot_reading_observed_brin ON iot_reading USING brin (observed_at);
"""


def partition_readings(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP TABLE iot_reading")
        schema_editor.execute(PARTITIONED)


class Migration(migrations.Migration):
    initial = True

    dependencies = [
        ("core", "0001_initial"),
    ]

    operations = [
        migrations.CreateModel(
            name="Device",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                (
                    "code",
                    models.CharField(
                        help_text="Letters, digits, '-' and '_'; the MQTT topic's level.", max_length=64, unique=True
                    ),
                ),
                ("entity_id", models.CharField(help_text="urn:ngsi-ld:Device:<code>", max_length=120, unique=True)),
                (
                    "kind",
                    models.CharField(
                        choices=[("air-quality", "Quan trắc không khí"), ("traffic", "Giao thông")], max_length=16
                    ),
                ),
                ("name", models.CharField(max_length=200)),
                ("name_en", models.CharField(max_length=200)),
                ("latitude", models.FloatField()),
                ("longitude", models.FloatField()),
                (
                    "ward_code",
                    models.CharField(blank=True, help_text="Code of the ward (statistics office).", max_length=10),
                ),
                (
                    "status",
                    models.CharField(
                        choices=[
                            ("active", "Đang hoạt động"),
                            ("maintenance", "Đang bảo trì"),
                            ("retired", "Ngừng sử dụng"),
                        ],
                        default="active",
                        max_length=12,
                    ),
                ),
                ("calibrated_on", models.DateField(blank=True, null=True)),
                ("calibration", models.JSONField(blank=True, default=dict)),
                ("attributes", models.JSONField(default=dict)),
                ("mqtt_username", models.CharField(max_length=64, unique=True)),
                ("mqtt_password_hash", models.CharField(blank=True, max_length=200)),
                ("created_at", models.DateTimeField(auto_now_add=True)),
                ("updated_at", models.DateTimeField(auto_now=True)),
                (
                    "agency",
                    models.ForeignKey(
                        blank=True,
                        null=True,
                        on_delete=django.db.models.deletion.PROTECT,
                        related_name="+",
                        to="core.agency",
                    ),
                ),
            ],
            options={
                "ordering": ["code"],
            },
        ),
        migrations.CreateModel(
            name="Quarantine",
            fields=[
                ("id", models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name="ID")),
                ("received_at", models.DateTimeField(db_index=True)),
                (
                    "reason",
                    models.CharField(
                        choices=[
                            ("malformed", "Dữ liệu không phải JSON hợp lệ"),
                            ("invalid_payload", "Sai cấu trúc dữ liệu"),
                            ("too_large", "Thông điệp quá lớn"),
                            ("unknown_device", "Thiết bị không tồn tại"),
                            ("device_inactive", "Thiết bị không hoạt động"),
                            ("device_mismatch", "Thiết bị không khớp chủ đề/tài khoản"),
                            ("unknown_attribute", "Thiết bị không đo thuộc tính này"),
                            ("unit_mismatch", "Sai đơn vị đo"),
                            ("invalid_value", "Giá trị không phải số"),
                            ("out_of_range", "Giá trị ngoài ngưỡng hợp lệ"),
                            ("invalid_time", "Thời điểm đo không hợp lệ"),
                            ("future_time", "Thời điểm đo ở tương lai"),
                            ("too_old", "Thời điểm đo quá thời hạn lưu trữ"),
                            ("rate_limited", "Thiết bị gửi quá nhiều"),
                        ],
                        max_length=24,
                    ),
                ),
                ("channel", models.CharField(max_length=8)),
                ("source", models.CharField(blank=True, help_text="The MQTT topic, or the HTTP path.", max_length=200)),
                ("device_code", models.CharField(blank=True, max_length=64)),
                ("detail", models.CharField(blank=True, max_length=300)),
                ("payload", models.BinaryField()),
            ],
            options={
                "ordering": ["-received_at"],
                "indexes": [models.Index(fields=["reason", "received_at"], name="iot_quarantine_reason")],
            },
        ),
        migrations.CreateModel(
            name="Reading",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "device",
                        "attribute",
                        "observed_at",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("attribute", models.CharField(max_length=16)),
                ("observed_at", models.DateTimeField()),
                ("value", models.FloatField()),
                ("received_at", models.DateTimeField()),
                (
                    "device",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="iot.device",
                    ),
                ),
            ],
        ),
        # PostgreSQL: the readings table again, partitioned by day on observed_at with a BRIN index
        # on it (hcmgov.iot.storage creates the partitions); elsewhere the model's plain table stays
        migrations.RunPython(partition_readings, migrations.RunPython.noop),
        migrations.CreateModel(
            name="Rollup",
            fields=[
                (
                    "pk",
                    models.CompositePrimaryKey(
                        "device",
                        "attribute",
                        "period",
                        "bucket",
                        blank=True,
                        editable=False,
                        primary_key=True,
                        serialize=False,
                    ),
                ),
                ("attribute", models.CharField(max_length=16)),
                (
                    "period",
                    models.IntegerField(choices=[(300, "5 phút"), (3600, "1 giờ"), (86400, "1 ngày (giờ Việt Nam)")]),
                ),
                ("bucket", models.DateTimeField()),
                ("count", models.IntegerField()),
                ("total", models.FloatField()),
                ("minimum", models.FloatField()),
                ("maximum", models.FloatField()),
                ("last_value", models.FloatField()),
                ("last_at", models.DateTimeField()),
                (
                    "device",
                    models.ForeignKey(
                        db_constraint=False,
                        db_index=False,
                        on_delete=django.db.models.deletion.DO_NOTHING,
                        related_name="+",
                        to="iot.device",
                    ),
                ),
            ],
            options={
                "indexes": [models.Index(fields=["period", "bucket"], name="iot_rollup_period_bucket")],
            },
        ),
    ]
