"""``hcmgov demo``: load the demo city — units, agencies, procedures, people and dossiers."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone
from tqdm import tqdm

from hcmgov.catalog import flows
from hcmgov.catalog import selectors as catalog
from hcmgov.catalog.demo import publicity_demo_load
from hcmgov.catalog.services import procedures_load
from hcmgov.common import jsonform
from hcmgov.common.context import Actor, acting_as
from hcmgov.core import selectors as core
from hcmgov.core.loaders import agencies_load, units_load
from hcmgov.documents import demo as documents_demo
from hcmgov.dossiers import demo
from hcmgov.exchange.demo import exchange_demo
from hcmgov.identity import demo as identity_demo
from hcmgov.identity import selectors as identity_read
from hcmgov.identity import services as identity
from hcmgov.opendata.publish import publish_all
from hcmgov.reporting.demo import demo_template_load
from hcmgov.warehouse.services import warehouse_refresh

CITIZENS = 40
# The demo teams: (login suffix, agency kind, department, unit name to pick the agency by). Each gets
# a desk officer, a specialist, a head of division, a leader and a clerk, so that a dossier can be
# taken through every step of its flow: the two wards, the Department of Justice, the City Police
# (as before), the ward police of Sài Gòn (its procedures' steps stay there), and the departments
# the wards' flows hand dossiers to (building permits: Construction; land: Agriculture and Environment).
TEAMS = [
    ("saigon", "commune_pc", "", "Phường Sài Gòn"),
    ("benthanh", "commune_pc", "", "Phường Bến Thành"),
    ("tuphap", "department", "justice", ""),
    ("congan", "police", "", ""),
    ("congan.saigon", "police", "", "Phường Sài Gòn"),
    ("xaydung", "department", "construction", ""),
    ("nongnghiep", "department", "agriculture_environment", ""),
]
ROLE_LOGINS = {
    "receiver": "canbo",
    "specialist": "chuyenvien",
    "head": "truongphong",
    "leader": "lanhdao",
    "clerk": "vanthu",
}
NAMES = {  # the desk officers the demo always had
    "canbo.saigon": "Lê Thị Mai",
    "canbo.benthanh": "Phạm Văn Hải",
    "canbo.tuphap": "Võ Thị Hồng",
    "canbo.congan": "Đặng Minh Tuấn",
}


class Command(BaseCommand):
    help = "Load the demo city (idempotent); --dossiers N adds N dossiers (millions for benchmarks)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument(
            "--dossiers", type=int, default=None, help="Add this many dossiers (default: fill up to 3,000)."
        )
        parser.add_argument("--seed", type=int, default=2026)
        parser.add_argument("--quiet", action="store_true")

    def handle(
        self, *args: Any, dossiers: int | None = None, seed: int = 2026, quiet: bool = False, **options: Any
    ) -> None:
        with acting_as(Actor.system("demo")):
            counts = units_load()
            agencies = agencies_load()
            procedures = procedures_load()
            self.stdout.write(f"units: {counts} · agencies: {agencies} · procedures: {procedures}")
            self.stdout.write(f"procedures' publication records: {publicity_demo_load()}")
            logins, officials = self._people(seed)
            wanted = dossiers if dossiers is not None else max(0, 3000 - demo.dossier_count())
            if wanted:
                self._dossiers(wanted, seed + demo.dossier_count(), quiet, officials)
            lgsp = exchange_demo(var_dir=settings.VAR_DIR)
            self.stdout.write(
                f"LGSP: {lgsp['services']} services"
                + (" · demo client in var/lgsp-demo-client.txt" if lgsp["client_written"] else "")
            )
            for report in publish_all():  # the city's own figures as open data (CKAN API, DCAT)
                self.stdout.write(f"open data: {report['dataset']} ({report['rows']} rows)")
            template = demo_template_load()  # the monthly report on administrative procedures
            self.stdout.write(f"reporting: template {template.code}")
            self.stdout.write(f"desk scans and certification book: {documents_demo.desk_demo_load()}")
            for table in warehouse_refresh():  # the analytics warehouse's first extract (Parquet)
                self.stdout.write(f"warehouse: {table.table} ({table.total_rows:,} rows, {table.status})")
        self.stdout.write(f"dossiers in the database: {demo.dossier_count():,}")
        self.stdout.write(f"\nDemo logins (password for all: {demo.DEMO_PASSWORD}):")
        for login, who in logins:
            self.stdout.write(f"  {login:<26} {who}")
        self.stdout.write(
            "\nCán bộ và quản trị nhập thêm mã xác thực một lần / officials and the administrator also give a"
            " one-time code:\n  hcmgov totp LOGIN   (or add the demo secret"
            f" {identity_demo.demo_totp_secret()} to an authenticator app)"
        )

    @transaction.atomic
    def _people(self, seed: int) -> tuple[list[tuple[str, str]], demo.Officials]:
        """The demo accounts (created once, roles added if missing): returns the logins to print
        and the officials who do each role at each demo agency."""
        rng = random.Random(seed)
        hashed = make_password(demo.DEMO_PASSWORD)  # hashing is slow on purpose: once for all demo accounts
        logins: list[tuple[str, str]] = []
        if identity_read.user_by_username(username="admin") is None:
            identity.user_create(
                username="admin",
                password=None,
                password_hash=hashed,
                kind="admin",
                full_name="Quản trị hệ thống",
                email="admin@example.vn",
            )
        admin = identity_read.user_by_username(username="admin")
        assert admin is not None
        identity_demo.demo_totp_device(user=admin)
        logins.append(("admin", "quản trị / administrator (/admin/)"))
        for i in range(1, CITIZENS + 1):
            username = f"congdan{i}"
            if identity_read.user_by_username(username=username) is None:
                identity.user_create(
                    username=username,
                    password=None,
                    password_hash=hashed,
                    kind="citizen",
                    full_name=jsonform.sample_name(rng),
                    email=f"{username}@example.vn",
                    personal_id=f"0792{i:08d}",
                    phone=f"09{i:08d}",
                    date_of_birth=dt.date(1970 + i % 35, 1 + i % 12, 1 + i % 28),
                    address=f"{i} Nguyễn Huệ, Phường Sài Gòn, TP. Hồ Chí Minh",
                )
        logins.append(("congdan1", "công dân / citizen (… congdan40)"))
        today = timezone.localdate()
        officials: demo.Officials = {}
        for suffix, kind, department, unit_name in TEAMS:
            agency = self._agency(kind, department, unit_name, today)
            if agency is None:
                continue
            for role, prefix in ROLE_LOGINS.items():
                login = f"{prefix}.{suffix}"
                user = identity_read.user_by_username(username=login) or identity.user_create(
                    username=login,
                    password=None,
                    password_hash=hashed,
                    kind="official",
                    full_name=NAMES.get(login) or jsonform.sample_name(random.Random(login)),
                    email=f"{login}@tphcm.gov.vn",
                )
                identity_demo.demo_totp_device(user=user)
                if not identity_read.user_has_role(user=user, agency_id=agency.pk, roles={role}):
                    identity.role_assign(user=user, role=role, agency_id=agency.pk)
                officials[(agency.pk, role)] = (user.pk, (user.full_name or login)[:150])
                label = flows.ROLES[role]
                logins.append((login, f"{label.vi.lower()} / {label.en.lower()} — {agency.name}"))
        return logins, officials

    def _agency(self, kind: str, department: str, unit_name: str, today: dt.date) -> Any:
        qs = core.agency_list(kind=kind, day=today)
        if department:
            qs = qs.filter(department=department)
        if unit_name:
            qs = qs.filter(unit__name=unit_name)
        return qs.first()

    def _dossiers(self, count: int, seed: int, quiet: bool, officials: demo.Officials) -> None:
        today = timezone.localdate()
        procedures = list(catalog.procedure_search())
        for p in procedures:
            p.version = catalog.procedure_version_in_force(procedure=p, day=today)  # type: ignore[attr-defined]
        applicants = identity_read.users_of_kind(kind="citizen")
        with tqdm(total=count, desc="dossiers", unit="hs", disable=quiet, mininterval=1.0) as bar:
            made = demo.generate(
                procedures=procedures,
                applicants=applicants,
                count=count,
                start=dt.date(2024, 1, 2),
                end=today,
                seed=seed,
                progress=bar.update,
                officials=officials,
                focus={agency for agency, role in officials if role == "receiver"},
                focus_share=min(0.2, 600 / count),  # a few hundred for the demo officials, however many in all
            )
        self.stdout.write(f"created {made:,} dossiers")
