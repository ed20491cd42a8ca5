"""The SMTP relay simulator, spoken to with the standard library's client (``smtplib``) and read
back over HTTP."""

from __future__ import annotations

import json
import smtplib
import socket
import urllib.error
import urllib.request
from email.message import EmailMessage

import pytest

from hcmgov.simulators.smtp import MAX_RECIPIENTS, running_relay


def http(method: str, url: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Content-Type": "application/json"}
    request = urllib.request.Request(url, data=data, method=method, headers=headers)  # noqa: S310 - loopback
    with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310 - the loopback simulator
        return json.loads(response.read())


@pytest.fixture
def relay():
    with running_relay() as (server, base_url):
        yield server, base_url


def test_a_vietnamese_message_with_dot_stuffed_lines_arrives_whole(relay):
    server, base_url = relay
    message = EmailMessage()
    message["From"] = "dichvucong@tphcm.gov.vn"
    message["To"] = "ducnv@tphcm.gov.vn, anhttn@tphcm.gov.vn"
    message["Subject"] = "Văn bản đến: 12/QĐ-UBND – Ủy ban nhân dân Thành phố"
    text = "Kính gửi Văn thư,\n.một dòng bắt đầu bằng dấu chấm\n.\n..hai chấm\nHết.\n"
    message.set_content(text)
    with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
        code, _features = client.ehlo("platform.test")
        assert code == 250
        assert client.has_extn("8bitmime")
        assert client.has_extn("smtputf8")
        refused = client.send_message(message, mail_options=["SMTPUTF8"])
        assert refused == {}
    [got] = http("GET", base_url + "/messages")["messages"]
    assert got["mail_from"] == "dichvucong@tphcm.gov.vn"
    assert got["rcpt_to"] == ["ducnv@tphcm.gov.vn", "anhttn@tphcm.gov.vn"]
    assert got["subject"] == "Văn bản đến: 12/QĐ-UBND – Ủy ban nhân dân Thành phố"
    assert got["text"] == text  # the leading dots that smtplib stuffed are taken off again
    assert got["smtputf8"] is True
    assert http("DELETE", base_url + "/messages") == {"deleted": 1}
    assert http("GET", base_url + "/messages") == {"messages": []}


def test_commands_out_of_order_are_refused_and_rset_noop_quit_work(relay):
    server, _ = relay
    with smtplib.SMTP("127.0.0.1", server.port, timeout=5) as client:
        assert client.docmd("MAIL", "FROM:<a@tphcm.gov.vn>")[0] == 503  # no EHLO yet
        assert client.helo("platform.test")[0] == 250
        assert client.docmd("RCPT", "TO:<b@tphcm.gov.vn>")[0] == 503  # no MAIL yet
        assert client.docmd("DATA")[0] == 503
        assert client.docmd("MAIL", "FROM:a@tphcm.gov.vn")[0] == 501  # no angle brackets
        assert client.docmd("MAIL", "FROM:<a@tphcm.gov.vn>")[0] == 250
        assert client.docmd("MAIL", "FROM:<a@tphcm.gov.vn>")[0] == 503  # nested
        assert client.docmd("RCPT", "TO:<b@tphcm.gov.vn>")[0] == 250
        assert client.rset()[0] == 250
        assert client.docmd("DATA")[0] == 503  # the transaction is gone
        assert client.noop()[0] == 250
        assert client.docmd("EXPN", "list")[0] == 500
        client.command_encoding = "utf-8"
        assert client.docmd("MAIL", "FROM:<đức@tphcm.gov.vn>")[0] == 553  # not ASCII, no SMTPUTF8
        assert client.docmd("MAIL", "FROM:<đức@tphcm.gov.vn> SMTPUTF8")[0] == 250
        assert client.rset()[0] == 250
        assert client.docmd("MAIL", "FROM:<a@tphcm.gov.vn> SIZE=999999999999")[0] == 552
        assert client.docmd("MAIL", "FROM:<a@tphcm.gov.vn> BODY=8BITMIME")[0] == 250
        for n in range(MAX_RECIPIENTS):
            assert client.docmd("RCPT", f"TO:<p{n}@tphcm.gov.vn>")[0] == 250
        assert client.docmd("RCPT", "TO:<one-too-many@tphcm.gov.vn>")[0] == 452
        assert client.quit()[0] == 221
    assert server.snapshot() == []


def test_a_relay_that_refuses_or_is_down(relay):
    server, base_url = relay
    assert http("GET", base_url + "/") == {"smtp": {"host": "127.0.0.1", "port": server.port}, "messages": 0}
    with pytest.raises(urllib.error.HTTPError) as bad:
        http("POST", base_url + "/_sim/fault", {"code": "down"})
    assert bad.value.code == 400
    with pytest.raises(urllib.error.HTTPError) as missing:
        http("GET", base_url + "/nothing-here")
    assert missing.value.code == 404
    assert http("POST", base_url + "/_sim/fault", {"code": 421}) == {"fault": 421}
    with pytest.raises(smtplib.SMTPConnectError) as refused:
        smtplib.SMTP("127.0.0.1", server.port, timeout=5)
    assert refused.value.smtp_code == 421
    http("POST", base_url + "/_sim/fault", {"code": None})
    server.stop()
    with pytest.raises(ConnectionRefusedError), socket.create_connection(("127.0.0.1", server.port), timeout=2):
        pass
    port = server.port
    assert server.start() == port  # back on the same port
    with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
        assert client.ehlo()[0] == 250


def test_hcmgov_sim_smtp_serves_smtp_and_http():
    """The real command line, as a developer runs it: SMTP on HCMGOV_SIM_SMTP_PORT (0: a free port,
    said on stderr), the messages over HTTP on --port (said on stdout)."""
    import os
    import re
    import subprocess
    import sys
    import threading

    from hcmgov import simulators

    assert "smtp" in simulators.names()
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HCMGOV_SIM_SMTP_PORT": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "hcmgov.cli", "sim", "smtp", "--host", "127.0.0.1", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    watchdog = threading.Timer(60, process.kill)  # a hung command fails the test instead of hanging it
    watchdog.start()
    try:
        assert process.stdout is not None
        assert process.stderr is not None
        smtp_line = ""
        while "smtp://" not in smtp_line:  # stderr may carry log lines before it
            smtp_line = process.stderr.readline()
            assert smtp_line, "the command ended before it listened"
        port = int(re.search(r"smtp://127\.0\.0\.1:(\d+)", smtp_line)[1])
        match = re.search(r"(http://127\.0\.0\.1:\d+)/", process.stdout.readline())
        assert match
        with smtplib.SMTP("127.0.0.1", port, timeout=5) as client:
            client.sendmail("a@tphcm.gov.vn", ["b@tphcm.gov.vn"], "Subject: thử\r\n\r\nxin chào\r\n".encode())
        [got] = http("GET", match[1] + "/messages")["messages"]
        assert (got["rcpt_to"], got["subject"], got["text"]) == (["b@tphcm.gov.vn"], "thử", "xin chào\n")
    finally:
        watchdog.cancel()
        process.terminate()
        process.wait(timeout=10)
