"""Settings that do not validate: a clear error naming the variable, never its value."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from dbify.cli import main
from dbify.settings import InvalidSettings, load_settings


@pytest.mark.parametrize(
    ("variable", "value", "says"),
    [
        ("DBIFY_DATABASE__POOL_SIZE", "many", "valid integer"),
        ("DBIFY_AUTH__JWKS", '["not-a-jwks-s3cret"]', '"keys" list'),
        ("DBIFY_AUTH__JWKS_URL", "file:///etc/s3cret", "http(s) URL"),
    ],
)
def test_invalid_settings_name_the_variable_not_the_value(
    monkeypatch: pytest.MonkeyPatch, variable: str, value: str, says: str
) -> None:
    monkeypatch.setenv(variable, value)
    with pytest.raises(InvalidSettings) as raised:
        load_settings()
    assert str(raised.value).startswith(f"{variable}: ")
    assert says in str(raised.value)
    assert "s3cret" not in str(raised.value)
    result = CliRunner().invoke(main, ["config", "show"])
    assert result.exit_code == 1
    assert variable in result.output
    assert "Traceback" not in result.output
    assert "s3cret" not in result.output
