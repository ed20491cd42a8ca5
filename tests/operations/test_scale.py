"""The city on one machine (issue 16, item 3): ``make scale-test`` runs scripts/scale_test.py, which
needs PostgreSQL, Redis, RabbitMQ and Mosquitto and takes minutes (docs/operations/scale-test.md).
Here only what it generates: the load balancer's configuration, made from deploy/nginx/hcmgov.conf,
which nginx itself must accept."""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "scripts" / "scale_test.py"
_spec = importlib.util.spec_from_file_location("scale_test", SCRIPT)
if _spec is None or _spec.loader is None:
    raise ImportError(SCRIPT)
scale_test = importlib.util.module_from_spec(_spec)
sys.modules["scale_test"] = scale_test
_spec.loader.exec_module(scale_test)

TEMPLATE = (ROOT / "deploy" / "nginx" / "hcmgov.conf").read_text()


def _config(tmp_path: Path) -> str:
    return scale_test.nginx_config(
        TEMPLATE, workdir=tmp_path, port=18080, web=[18010, 18011, 18012], gateways=[18020, 18021], static=tmp_path
    )


def _upstream(config: str, name: str) -> list[str]:
    block = re.search(rf"upstream {name} \{{(.*?)\}}", config, re.DOTALL)
    assert block is not None
    return re.findall(r"server (\S+) ", block.group(1))


def test_the_balancer_sends_to_the_local_nodes_only_and_keeps_the_deployed_rules(tmp_path):
    config = _config(tmp_path)
    assert _upstream(config, "hcmgov_web") == ["127.0.0.1:18010", "127.0.0.1:18011", "127.0.0.1:18012"]
    assert _upstream(config, "hcmgov_gateway") == ["127.0.0.1:18020", "127.0.0.1:18021"]
    assert re.findall(r"^\s*listen (\S+);", config, re.MULTILINE) == ["127.0.0.1:18080"]
    assert "ssl_" not in config
    assert "10.10.1.11" not in config
    assert f"pid {tmp_path}/nginx.pid;" in config
    # what the deployment relies on is kept as written: balancing, retries, per-address limits
    for rule in ("least_conn;", "proxy_next_upstream error timeout http_502 http_503;", "zone=hcmgov_login"):
        assert config.count(rule) == TEMPLATE.count(rule) > 0, rule


def test_a_template_of_another_shape_is_refused(tmp_path):
    with pytest.raises(ValueError, match="upstream hcmgov_gateway"):
        scale_test.nginx_config(
            re.sub(r"upstream hcmgov_gateway \{.*?\}\n", "", TEMPLATE, flags=re.DOTALL),
            workdir=tmp_path,
            port=18080,
            web=[18010],
            gateways=[18020],
            static=tmp_path,
        )


def test_nginx_accepts_the_configuration(tmp_path):
    nginx = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists() else None)
    if nginx is None:
        if os.environ.get("HCMGOV_CI"):
            pytest.fail("nginx is not installed (.ci/run installs nginx-light)")
        pytest.skip("nginx is not installed")
    (tmp_path / "temp").mkdir()
    conf = tmp_path / "nginx.conf"
    conf.write_text(_config(tmp_path))
    done = subprocess.run(  # noqa: S603 - nginx's own syntax check of a file we wrote
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
