import os

import pytest


@pytest.fixture(autouse=True)
def _no_mvq_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unit tests see only the settings they pass; the integration harness sets MVQ_* vars."""
    for name in [n for n in os.environ if n.startswith("MVQ_")]:
        monkeypatch.delenv(name)
