"""Fixtures for browser tests: a Voilà server factory and a headless Chromium page.

Every test here is marked ``browser``; all skip cleanly when Chromium (``$POSEKIT_CHROMIUM``,
default ``/usr/bin/chromium``) or playwright / voila / nbformat / ipykernel are missing.
Run only them with ``pytest -m browser``, or leave them out with ``-m 'not browser'``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Sequence

import pytest

from tests.browser import harness


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "browser: drives widgets in a real headless Chromium (needs chromium, playwright, voila)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    reason = harness.missing_requirements()
    for item in items:
        if "tests/browser/" in item.nodeid.replace("\\", "/"):
            item.add_marker(pytest.mark.browser)
            if reason:
                item.add_marker(pytest.mark.skip(reason=reason))


@pytest.fixture
def voila(tmp_path) -> Iterator[Callable[..., harness.NotebookServer]]:
    """Factory: ``voila(cells, env=None)`` serves a notebook of ``cells``; stopped after the test.

    The test fails if a kernel outlived its server.
    """
    with contextlib.ExitStack() as stack:
        servers: list[harness.NotebookServer] = []

        def start(cells: Sequence[str], env: dict[str, str] | None = None) -> harness.NotebookServer:
            workdir = tmp_path / f"voila-{len(servers)}"
            workdir.mkdir()
            server = stack.enter_context(harness.voila_server(cells, workdir, env=env))
            servers.append(server)
            return server

        yield start
    leftovers = [pid for server in servers for pid in server.leftover_kernels]
    assert not leftovers, f"kernels still running after teardown: {leftovers}"


@pytest.fixture
def browser(tmp_path) -> Iterator[harness.Browser]:
    """Headless Chromium page (1280x1000); the test fails on uncaught page JS errors."""
    with harness.chromium(tmp_path / "chromium-profile") as b:
        yield b
    assert not b.errors, f"uncaught JavaScript errors in the page: {b.errors}"
