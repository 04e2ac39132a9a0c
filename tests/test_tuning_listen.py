"""The server listens before it says so: a client that connects the moment the URL is printed is
never refused, even while another process keeps the CPU busy (a fresh clone's CI failed so)."""

from __future__ import annotations

import socket
import subprocess
import sys
from urllib.parse import urlsplit

import httpx
import pytest

from tests.tuning_servers import model_server, stop
from tuning.api import build_app
from tuning.listen import serve_in_thread
from tuning.settings import ServeSettings

STARTS = 3


@pytest.mark.slow
def test_the_printed_url_takes_a_connection_at_once_under_load() -> None:
    burner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        for _ in range(STARTS):
            # the helper hands over the URL the instant its line is read
            with model_server(None, extra=["--embed-model", "packaged"]) as url:
                where = urlsplit(url)
                # refused (ConnectionRefusedError) if the line came before the socket listened
                socket.create_connection((where.hostname, where.port), timeout=10).close()
                assert httpx.get(f"{url}/models", timeout=60).status_code == 200
    finally:
        stop(burner)


def test_a_server_in_a_thread_answers_as_soon_as_it_is_handed_over() -> None:
    app = build_app(None, None, ServeSettings(_env_file=None))
    for _ in range(20):
        with serve_in_thread(app) as url:
            assert httpx.get(f"{url}/health", timeout=10).json()["status"] == "ok"
