"""``hcmgov sim NAME`` serves a simulator until stopped; an unknown name lists the known ones."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
import urllib.request

import pytest
from django.core.management import CommandError, call_command


def test_hcmgov_sim_sms_starts_and_answers():
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(  # the real command line, as a developer runs it
        [sys.executable, "-m", "hcmgov.cli", "sim", "sms", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    watchdog = threading.Timer(30, process.kill)  # a hung command fails the test instead of hanging it
    watchdog.start()
    try:
        assert process.stdout is not None
        line = process.stdout.readline()  # "simulator sms: http://127.0.0.1:PORT/ …" once it listens
        match = re.search(r"(http://127\.0\.0\.1:\d+)/", line)
        assert match, (line, process.stderr.read() if process.poll() is not None else "")
        with urllib.request.urlopen(match[1] + "/_sim/messages", timeout=5) as response:  # noqa: S310
            assert json.loads(response.read()) == {"messages": [], "requests": 0}
    finally:
        watchdog.cancel()
        process.terminate()
        process.wait(timeout=10)


def test_an_unknown_simulator_lists_the_known_ones():
    with pytest.raises(CommandError) as info:
        call_command("sim", "no-such-system")
    assert "sms" in str(info.value)


def test_without_a_name_the_simulators_are_listed(capsys):
    call_command("sim")
    assert "sms" in capsys.readouterr().out
