"""The core never loads Textual or Rich: import it in a fresh interpreter and look at sys.modules."""

from __future__ import annotations

import importlib.util
import subprocess
import sys

CORE = [
    "tibber_tui.config",
    "tibber_tui.db",
    "tibber_tui.db.connection",
    "tibber_tui.db.embedded",
    "tibber_tui.db.migrations",
    "tibber_tui.db.store",
    "tibber_tui.db.listener",
    "tibber_tui.db.commands",
    "tibber_tui.db.leases",
    "tibber_tui.tibber",
    "tibber_tui.tibber.client",
    "tibber_tui.collector",
    "tibber_tui.collector.manager",
    "tibber_tui.simulator",
    "tibber_tui.simulator.server",
    "tibber_tui.headless",
    "tibber_tui.demo",
    "tibber_tui.cli",
]


def _existing(names: list[str]) -> list[str]:
    return [n for n in names if importlib.util.find_spec(n) is not None]


def test_core_never_imports_textual_or_rich() -> None:
    modules = _existing(CORE)
    assert "tibber_tui.db.store" in modules and "tibber_tui.config" in modules
    code = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('textual', 'rich'))\n"
        "print(','.join(bad))\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "", f"the core loaded: {result.stdout.strip()}"


def test_the_check_can_fail() -> None:
    # The same probe sees Textual when something does import it (guards against a probe that always passes).
    code = "import sys, tibber_tui.ui.app\nprint(any(m.startswith('textual') for m in sys.modules))"
    if importlib.util.find_spec("tibber_tui.ui.app") is None:
        code = "import sys, textual.app\nprint(any(m.startswith('textual') for m in sys.modules))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert result.stdout.strip() == "True", result.stderr
