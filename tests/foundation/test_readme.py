"""The README's configuration table lists every setting, with the default the code really has."""

import re
from pathlib import Path

from pydantic_settings import BaseSettings

from server import settings as config

README = Path(__file__).resolve().parents[2] / "README.md"


def _settings_classes() -> list[type[BaseSettings]]:
    return [
        cls
        for cls in vars(config).values()
        if isinstance(cls, type) and issubclass(cls, BaseSettings) and cls is not BaseSettings
    ]


def _documented() -> dict[str, str]:
    text = README.read_text()
    section = text[text.index("<!-- section:configuration -->") : text.index("<!-- /section:configuration -->")]
    return dict(re.findall(r"^\| `([A-Z0-9_]+)` \| ([^|]+) \|", section, flags=re.M))


def _shown(value: object) -> str:
    if value is None:
        return "unset"
    if isinstance(value, bool):
        return f"`{str(value).lower()}`"
    if isinstance(value, list):
        return "`[" + ", ".join(f'"{v}"' for v in value) + "]`"
    return f"`{value}`"


def test_every_environment_variable_is_documented_with_its_default():
    documented = _documented()
    missing, wrong, known = [], [], set()
    for cls in _settings_classes():
        prefix = str(cls.model_config.get("env_prefix", ""))
        for name, field in cls.model_fields.items():
            variable = f"{prefix}{name}".upper()
            known.add(variable)
            default = field.default_factory() if field.default_factory else field.default  # type: ignore[call-arg]
            if variable not in documented:
                missing.append(variable)
            elif documented[variable].strip() != _shown(default):
                wrong.append(f"{variable}: README {documented[variable].strip()}, code {_shown(default)}")
    assert missing == [], "add these to the README's configuration table"
    assert wrong == []
    assert sorted(set(documented) - known) == [], "the README documents settings the code does not have"
