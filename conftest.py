"""Project-wide pytest fixtures."""

from __future__ import annotations

import os
import struct
import zlib
from typing import Any

import pytest
from hypothesis import settings as hypothesis_settings

# CI replays the same examples on every run (derandomize: drawn from a seed fixed per test), so a
# red CI is a change's doing, never a new draw's; `make test` on a developer's machine draws fresh
# ones each run and keeps exploring (tests/fuzz, the schemathesis contract tests). A failure found
# there is kept as an explicit @example or a test of its own.
hypothesis_settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("HCMGOV_CI"):
    hypothesis_settings.load_profile("ci")


def _png() -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b"\x00\xff\x00\x00"))
        + chunk(b"IEND", b"")
    )


def _pdf() -> bytes:
    """A well-formed one-page PDF (cross-reference table and all: the upload checks of the
    documents app refuse a damaged one)."""
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 595 842]/Resources<<>>>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<</Size %d/Root 1 0 R>>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


PDF = _pdf()
PNG = _png()


@pytest.fixture
def pdf_bytes() -> bytes:
    return PDF


@pytest.fixture
def png_bytes() -> bytes:
    return PNG


@pytest.fixture(autouse=True)
def _callbacks_to_this_machine(settings):
    """Tests' subscribers listen on this machine, an address the platform refuses by default."""
    settings.EXCHANGE_CALLBACK_ALLOWED = ["127.0.0.0/8", "localhost"]


@pytest.fixture(autouse=True)
def _exchange_channels_forgotten():
    """The exchange keeps the open channels per process for a few seconds; a test's rollback or
    flush does not tell it, so each test starts without them."""
    from hcmgov.exchange.events import channels_forget

    channels_forget()


@pytest.fixture(autouse=True)
def _rate_limits_forgotten(settings):
    """Each test starts with full buckets (a process keeps them between requests), and limits no
    test meets by accident: the fuzzers and the contract tests make thousands of requests from one
    address with one token. tests/security/test_rate_limits.py sets the real ones."""
    settings.RATE_LIMITS = dict.fromkeys(settings.RATE_LIMITS, (1e6, 1e6))
    # Audit events linked by their own transaction, at once: a test reads the chain right after.
    # The background linker (production's default on PostgreSQL) has tests of its own.
    settings.AUDIT_LINK_BACKGROUND = False
    from hcmgov.common import ratelimit

    ratelimit.reset()
    yield
    ratelimit.reset()


@pytest.fixture(autouse=True)
def _media_in_tmp(settings, tmp_path):
    settings.PASSWORD_HASHERS = [  # tests only: fast; client secrets keep theirs (one HMAC round)
        "django.contrib.auth.hashers.MD5PasswordHasher",
        "hcmgov.identity.provider.hashers.ClientSecretHasher",
    ]
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.WAREHOUSE_URL = str(tmp_path / "warehouse")
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


@pytest.fixture(autouse=True)
def _force_login_with_second_factor(monkeypatch):
    """``client.force_login(user)`` skips the login form, password and all; for an official or an
    administrator made by the factories it skips their one-time code too, by putting the device the
    factory gave them (``user.otp_device``) in the session, as the code page would. A user made with
    ``totp_device=False`` (or read back from the database) is logged in with the password only;
    ``otp_force_login`` in the identity factories finds a stored device. The second factor itself
    is tested through its pages (``hcmgov/identity/tests``, ``hcmgov/web/tests``)."""
    from django.test import Client
    from django_otp import DEVICE_ID_SESSION_KEY

    force_login = Client.force_login

    def force_login_with_device(self: Any, user: Any, backend: str | None = None) -> None:
        force_login(self, user, backend)
        device = getattr(user, "otp_device", None)
        if device is not None:
            session = self.session
            session[DEVICE_ID_SESSION_KEY] = device.persistent_id
            session.save()

    monkeypatch.setattr(Client, "force_login", force_login_with_device)


@pytest.fixture(scope="session")
def django_db_setup(django_db_setup, django_db_blocker):
    """Load the real city once per test database: units in both structures, the crosswalk,
    agencies and the procedure catalogue (transactional tests that flush reload it via ``city``)."""
    with django_db_blocker.unblock():
        _load_city()


def _load_city() -> None:
    from hcmgov.catalog.services import procedures_load
    from hcmgov.core import selectors
    from hcmgov.core.loaders import agencies_load, units_load

    if not selectors.agency_list().exists():
        units_load()
        agencies_load()
        procedures_load()


@pytest.fixture
def city(db):
    """The real city's units, agencies and procedures (loaded once; reloaded after a flush)."""
    _load_city()


# --- a procedure, an agency, a citizen and a desk officer, built with the apps' factories ---------


@pytest.fixture
def version(db):
    from hcmgov.catalog.tests.factories import ProcedureVersionFactory, with_test_flow

    return with_test_flow(ProcedureVersionFactory())


@pytest.fixture
def agency(db):
    from hcmgov.core.tests.factories import AgencyFactory

    return AgencyFactory()


@pytest.fixture
def citizen(db):
    from hcmgov.identity.tests.factories import UserFactory

    return UserFactory()


@pytest.fixture
def receiver(agency):
    from hcmgov.identity.tests.factories import RoleAssignmentFactory

    return RoleAssignmentFactory(agency=agency).user


@pytest.fixture
def submit(version, agency, citizen, pdf_bytes):
    from hcmgov.dossiers.files import Attachment
    from hcmgov.dossiers.services import dossier_submit
    from hcmgov.dossiers.tests.conftest import VALID_FORM

    def _submit(**overrides: Any):
        kwargs: dict[str, Any] = {
            "applicant": citizen,
            "procedure_code": version.procedure.code,
            "agency_code": agency.code,
            "form_data": dict(VALID_FORM),
            "attachments": [Attachment("TOKHAI", "to-khai.pdf", pdf_bytes)],
        }
        kwargs.update(overrides)
        return dossier_submit(**kwargs)

    return _submit
