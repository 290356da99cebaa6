"""``tibber-tui simulate``: prints the URL and tokens, serves them, stops cleanly on SIGTERM."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tibber_tui.simulator.command import SimConfigError, load_sim_config


async def test_simulate_command_serves_the_tokens_of_a_config_file(tmp_path: Path) -> None:
    config = tmp_path / "sim.toml"
    config.write_text(
        'seed = 3\nrate_limit = 50\n[[tokens]]\ntoken = "alpha-token-123"\nhomes = 2\nproducing = 1\n'
        '[[tokens]]\ntoken = "beta-token-456"\n'
        'homes = [{ id = "cabin", nickname = "Cabin", time_zone = "Europe/Stockholm", producing = true }]\n'
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "tibber_tui.cli", "simulate", "--port", "0", "--sim-config", str(config),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    assert proc.stdout is not None
    try:
        lines = [(await asyncio.wait_for(proc.stdout.readline(), 30)).decode() for _ in range(5)]
        url = lines[0].split("TIBBER_API_URL=")[1].strip()
        assert "alpha-token-123" in lines[3] and "(2 homes, 1 producing)" in lines[3]
        assert "beta-token-456" in lines[4]
        headers = {"Authorization": "Bearer beta-token-456", "User-Agent": "tests/1"}
        query = {"query": "{ viewer { homes { id timeZone } } }"}
        async with aiohttp.ClientSession() as session, session.post(url, json=query, headers=headers) as r:
            body = await r.json()
        assert body["data"]["viewer"]["homes"] == [{"id": "cabin", "timeZone": "Europe/Stockholm"}]
    finally:
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 30)
    assert proc.returncode == 0, stderr.decode()
    assert b"simulator stopped" in stdout


def test_bad_sim_config_gives_one_clear_message(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"tokens": [{"token": "t", "homes": [{"id": "h", "time_zone": "Mars/Base"}]}]}))
    with pytest.raises(SimConfigError, match="time_zone must be one of"):
        load_sim_config(bad)
    bad.write_text(json.dumps({"seeed": 1, "tokens": [{"token": "t"}]}))
    with pytest.raises(SimConfigError, match=r"unknown settings \['seeed'\]"):
        load_sim_config(bad)
    bad.write_text("{not json")
    with pytest.raises(SimConfigError, match=r"bad\.json"):
        load_sim_config(bad)
