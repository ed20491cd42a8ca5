"""The deployment artefacts in deploy/ say what the code can do: every process kind has a unit, each
unit starts a command that exists with options it accepts, and nginx accepts its configuration."""

from __future__ import annotations

import configparser
import datetime as dt
import shlex
import shutil
import subprocess
from pathlib import Path

import pytest
from django.core.management import get_commands, load_command_class

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
KINDS = {"web", "gateway", "worker", "scheduler", "ingester"}  # ARCHITECTURE.md, "Processes"


def _units() -> dict[str, configparser.ConfigParser]:
    units = {}
    for path in sorted((DEPLOY / "systemd").glob("hcmgov-*.service")):
        parser = configparser.ConfigParser(strict=False, interpolation=None)
        parser.optionxform = str  # type: ignore[assignment,method-assign]
        parser.read_string(path.read_text(encoding="utf-8").replace("\\\n", " "))
        units[path.name] = parser
    return units


def test_every_process_kind_has_a_unit_restarted_by_systemd_as_the_hcmgov_user():
    units = _units()
    # the worker kind has two units: the default queue's (hcmgov-worker@) and the bulk queue's
    kinds = {
        name.removeprefix("hcmgov-").split("@")[0].removesuffix(".service").removesuffix("-bulk") for name in units
    }
    assert kinds == KINDS
    for name, unit in units.items():
        service = unit["Service"]
        assert service["User"] == "hcmgov", name
        assert service["Restart"] == "always", name
        assert service["EnvironmentFile"] == "/etc/hcmgov/hcmgov.env", name
        assert unit["Install"]["WantedBy"] == "hcmgov.target", name


@pytest.mark.parametrize("unit_name", sorted(n for n in _units() if "web" not in n and "gateway" not in n))
def test_each_unit_runs_an_hcmgov_command_with_options_it_accepts(unit_name):
    argv = shlex.split(_units()[unit_name]["Service"]["ExecStart"])
    assert argv[0] == "/opt/hcmgov/.venv/bin/hcmgov"
    command, args = argv[1], [a.replace("${HCMGOV_WORKER_CONCURRENCY}", "8") for a in argv[2:]]
    app = get_commands()[command]
    parser = load_command_class(app, command).create_parser("hcmgov", command)
    parser.parse_args(args)  # exits (SystemExit) on an unknown option


def test_the_worker_units_serve_every_queue_each_queue_by_its_own_unit():
    """A worker unit without --queues would start its own bulk worker beside it (the embedded
    default): at city scale each queue has its unit, and no queue is left without a worker."""
    from django.conf import settings

    served = {}
    for name, unit in _units().items():
        argv = shlex.split(unit["Service"]["ExecStart"])
        if argv[1] == "worker":
            queues = next(a for a in argv[2:] if a != "--queues" and argv[argv.index(a) - 1] == "--queues")
            served[name] = set(queues.split(","))
    assert served == {
        "hcmgov-worker@.service": {settings.CELERY_TASK_DEFAULT_QUEUE},
        "hcmgov-worker-bulk.service": {settings.BULK_QUEUE},
    }


def test_the_web_units_check_the_city_settings_before_serving():
    service = _units()["hcmgov-web@.service"]["Service"]
    assert shlex.split(service["ExecStartPre"])[1:] == ["check", "--deploy", "--fail-level", "ERROR"]
    assert "hcmgov.wsgi:application" in service["ExecStart"]
    gateway = _units()["hcmgov-gateway@.service"]["Service"]
    assert "hcmgov.exchange.gateway.asgi:application" in gateway["ExecStart"]


def test_nginx_accepts_the_balancer_configuration(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not Path(nginx).exists():
        pytest.skip("nginx is not installed")
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "dichvucong.hochiminhcity.gov.vn")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "fullchain.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "privkey.pem").write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    site = (DEPLOY / "nginx" / "hcmgov.conf").read_text(encoding="utf-8").replace("/etc/hcmgov/tls", str(tmp_path))
    (tmp_path / "site.conf").write_text(site, encoding="utf-8")
    (tmp_path / "nginx.conf").write_text(
        f"pid {tmp_path}/nginx.pid;\nerror_log {tmp_path}/error.log;\nevents {{}}\n"
        f"http {{\n access_log off;\n client_body_temp_path {tmp_path};\n include {tmp_path}/site.conf;\n}}\n",
        encoding="utf-8",
    )
    result = subprocess.run(  # noqa: S603 - our own test configuration
        [nginx, "-t", "-q", "-p", str(tmp_path), "-c", str(tmp_path / "nginx.conf")],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
