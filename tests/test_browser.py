"""The app in a real browser: `streamlit run` plus Debian's headless chromium driven by Playwright.

Skipped (with the reason) only when chromium is not installed; scripts/setup.sh installs it.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
ARTIFACTS = ROOT / "test-artifacts"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ANSWER_TIMEOUT_MS = 400_000  # the first question loads the model; CPU generation is slow on a busy machine

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"chromium is not installed at {CHROMIUM} (see scripts/setup.sh)"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until_healthy(url: str, process: subprocess.Popen, timeout_s: float = 90) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"streamlit exited early with code {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as response:
                if response.read().strip() == b"ok":
                    return
        except OSError:
            time.sleep(0.5)
    raise TimeoutError(f"streamlit did not answer at {url} within {timeout_s:.0f} s")


def stop(process: subprocess.Popen) -> None:
    """Stop the server we started, by its own handle; kill it if it will not stop."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)


@pytest.fixture
def app_url(tmp_path: Path) -> Iterator[str]:
    port = free_port()
    log = (tmp_path / "streamlit.log").open("wb")
    command = [
        sys.executable, "-m", "streamlit", "run", str(ROOT / "streamlit_app.py"),
        "--server.headless", "true", "--server.port", str(port), "--server.address", "127.0.0.1",
        "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
    ]
    env = {**os.environ, "SQLCHAT_HISTORY_URL": str(tmp_path / "history.sqlite")}  # never the user's own store
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    try:
        url = f"http://127.0.0.1:{port}"
        wait_until_healthy(url, process)
        yield url
    finally:
        stop(process)
        log.close()


def ranked_artists(limit: int) -> list[tuple[str, int]]:
    """Artists and their track counts (Artist -> Album -> Track), most first, computed here from the demo file."""
    from sqlchat.config import DEMO_DIR

    with sqlite3.connect(DEMO_DIR / "chinook.sqlite") as con:
        return con.execute(
            "SELECT Artist.Name, COUNT(*) FROM Artist JOIN Album ON Album.ArtistId = Artist.ArtistId "
            "JOIN Track ON Track.AlbumId = Album.AlbumId GROUP BY Artist.ArtistId ORDER BY COUNT(*) DESC LIMIT ?", (limit,)
        ).fetchall()


def top_artists_by_tracks(limit: int) -> tuple[list[str], int]:
    """The answer: the artists surely in the top ``limit`` (more tracks than the last place, where a tie may
    pick either) and that count."""
    ranked = ranked_artists(limit)
    last = ranked[-1][1]
    return [name for name, tracks in ranked if tracks > last], last


def test_ask_a_demo_database_in_the_browser(app_url: str) -> None:
    """The app issue's done-when, as a new user would try it: one click, one question, SQL, table, bar chart."""
    from playwright.sync_api import expect, sync_playwright

    ARTIFACTS.mkdir(exist_ok=True)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            page.goto(app_url)
            page.get_by_role("button", name="Chinook (music store)").click()
            expect(page.get_by_text("Connected to chinook.sqlite").first).to_be_visible(timeout=60_000)

            chat = page.locator('[data-testid="stChatInputTextArea"]')
            expect(chat).to_be_enabled(timeout=30_000)
            chat.fill("Which 5 artists have the most tracks?")
            chat.press("Enter")

            reply = page.locator('[data-testid="stChatMessage"]').nth(1)
            expect(reply.locator('[data-testid="stCode"]').first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
            table, refusal = reply.locator('[data-testid="stDataFrame"]'), reply.locator('[data-testid="stAlert"]')
            expect(table.or_(refusal).first).to_be_visible(timeout=60_000)
            expect(page.locator('[data-testid="stException"]')).to_have_count(0)
            if not refusal.count():  # an unsure answer's rows come first; the chart comes with the settled answer
                expect(reply).to_contain_text("Confidence:", timeout=ANSWER_TIMEOUT_MS)
            page.wait_for_timeout(1500)  # let the chart and table finish drawing
            page.screenshot(path=str(ARTIFACTS / "browser-answer.png"), full_page=True)
            sql = reply.locator('[data-testid="stCode"]').first.inner_text()
            problem = refusal.first.inner_text() if refusal.count() else ""
            # the answer's table comes first; on low confidence, "Did you mean …?" previews follow it
            assert table.count() >= 1, f"the model's SQL gave no result table: {sql!r} -> {problem!r}"
            assert reply.locator('[data-testid*="VegaLite"]').count() >= 1, "names by a count should be drawn as a bar chart"
            shown = table.first.text_content() or ""  # the grid draws on a canvas; its accessible copy holds the text
            surely, last_place = top_artists_by_tracks(5)
            assert all(name in shown for name in surely) and str(last_place) in shown, f"wrong rows for {sql!r}: {shown!r}"
            said = reply.inner_text()
            assert "track" in said.lower() and "artist" in said.lower(), f"no plain-English explanation shown: {said!r}"
            assert any(f"Confidence: {level}" in said for level in ("high", "medium", "low")), f"no confidence shown: {said!r}"

            ask_follow_up(page)
        except Exception:
            if "page" in locals():  # what the user saw when it failed
                page.screenshot(path=str(ARTIFACTS / "browser-failure.png"), full_page=True)
            raise
        finally:
            browser.close()


def ask_follow_up(page) -> None:
    """A follow-up builds on the answer above it ("only the top 3" of the 5 artists); New conversation starts over."""
    from playwright.sync_api import expect

    chat = page.locator('[data-testid="stChatInputTextArea"]')
    chat.fill("Only the top 3 of them")
    chat.press("Enter")
    reply = page.locator('[data-testid="stChatMessage"]').nth(3)
    expect(reply.locator('[data-testid="stCode"]').first).to_be_visible(timeout=ANSWER_TIMEOUT_MS)
    table = reply.locator('[data-testid="stDataFrame"]')
    expect(table.or_(reply.locator('[data-testid="stAlert"]')).first).to_be_visible(timeout=60_000)
    expect(page.get_by_text("A follow-up to: Which 5 artists have the most tracks?")).to_be_visible()
    page.wait_for_timeout(1500)
    page.screenshot(path=str(ARTIFACTS / "browser-follow-up.png"), full_page=True)
    sql = reply.locator('[data-testid="stCode"]').first.inner_text()
    assert table.count() >= 1, f"the follow-up's SQL gave no result table: {sql!r}"
    shown = table.first.text_content() or ""
    top3, third = top_artists_by_tracks(3)
    below = [name for name, tracks in ranked_artists(5) if tracks < third]  # in the first answer, not in this one
    assert all(name in shown for name in top3) and str(third) in shown, f"not the top 3: {sql!r}: {shown!r}"
    assert not any(name in shown for name in below), f"more than the top 3: {sql!r}: {shown!r}"

    page.get_by_role("button", name="New conversation").click()
    expect(page.locator('[data-testid="stChatMessage"]')).to_have_count(0, timeout=30_000)