"""Reading gemhub.yaml into a validated GemhubConfig.

Every way a config enters gemhub (the CLI, `gemhub up`, the hub's
jupyterhub_config.py) goes through `load_config`, so the hub and
`gemhub config validate` can never disagree about what is valid, and both
report problems the same way: file, line, dotted field path, message.
"""

from __future__ import annotations

import copy
import ipaddress
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from ..validation_errors import field_problems
from .model import GemhubConfig

UNKNOWN_KEY = "unknown key (check the spelling against `gemhub config reference`)"


@dataclass(frozen=True)
class Problem:
    path: str
    message: str
    line: int | None = None

    def render(self, source: str) -> str:
        where = f"{source}:{self.line}" if self.line else source
        field = f" {self.path}:" if self.path else ""
        return f"{where}:{field} {self.message}"


class ConfigError(Exception):
    """A config that cannot be used; `str()` lists every problem, one per line."""

    def __init__(self, source: str, problems: list[Problem]):
        self.source = source
        self.problems = problems
        super().__init__("\n".join(p.render(source) for p in problems))


def _line_index(text: str) -> dict[str, int]:
    """Map dotted paths to the 1-based line where YAML defines them."""
    index: dict[str, int] = {}

    def walk(node: yaml.Node, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                path = f"{prefix}.{key.value}" if prefix else str(key.value)
                index[path] = key.start_mark.line + 1
                walk(value, path)
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                path = f"{prefix}.{i}"
                index[path] = item.start_mark.line + 1
                walk(item, path)

    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return index
    if root is not None:
        walk(root, "")
    return index


def _line_for(path: str, index: dict[str, int]) -> int | None:
    parts = path.split(".")
    while parts:
        line = index.get(".".join(parts))
        if line:
            return line
        parts.pop()
    return None


def _schema_problems(error: ValidationError) -> list[Problem]:
    return [Problem(p.field, p.message)
            for p in field_problems(error, unknown_key=UNKNOWN_KEY)]


def _cross_field_problems(cfg: GemhubConfig) -> list[Problem]:
    """Rules that involve more than one field, each reported at the field to change."""
    problems = []
    spawner = cfg.spawner
    if spawner.type in ("docker", "kubernetes") and not spawner.image:
        problems.append(Problem("spawner.image", f"required when spawner.type is '{spawner.type}'"))
    if spawner.profiles and spawner.type == "local":
        problems.append(Problem("spawner.profiles", "profiles need spawner.type docker or kubernetes"))
    if spawner.type == "docker":
        for i, profile in enumerate(spawner.profiles):
            for name in ("cpu_limit", "mem_limit"):
                if getattr(profile, name) is not None:
                    problems.append(
                        Problem(f"spawner.profiles.{i}.{name}", "the docker spawner takes only an image per profile")
                    )
    for i, profile in enumerate(spawner.profiles):
        if profile.kubernetes is not None and spawner.type != "kubernetes":
            problems.append(Problem(f"spawner.profiles.{i}.kubernetes", "needs spawner.type kubernetes"))
    problems += _kubernetes_volume_problems(spawner.kubernetes)
    if sum(p.default for p in spawner.profiles) > 1:
        problems.append(Problem("spawner.profiles", "at most one profile can be the default"))
    if len({p.slug for p in spawner.profiles}) != len(spawner.profiles):
        problems.append(Problem("spawner.profiles", "profile slugs must be unique"))
    if cfg.auth.type == "oauth" and cfg.auth.oauth is None:
        problems.append(Problem("auth.oauth", "required when auth.type is 'oauth'"))
    if cfg.auth.type == "demo" and not ipaddress.ip_address(cfg.hub.ip).is_loopback:
        problems.append(
            Problem(
                "auth.type",
                f"'demo' logins are only served on a loopback address, but hub.ip is {cfg.hub.ip}; "
                "use 'native' or 'oauth' for a shared hub",
            )
        )
    return problems


def _kubernetes_volume_problems(k) -> list[Problem]:
    """Mounts name a volume that exists; extra volumes do not take gemhub's `home`."""
    problems = []
    names = [v.name for v in k.extra_volumes]
    home = ["home"] if k.storage_capacity else []
    for i, name in enumerate(names):
        if name in home or names.index(name) != i:
            problems.append(Problem(f"spawner.kubernetes.extra_volumes.{i}.name", f"volume name {name!r} is already used"))
    for i, mount in enumerate(k.extra_volume_mounts):
        if mount.name not in names + home:
            problems.append(
                Problem(f"spawner.kubernetes.extra_volume_mounts.{i}.name", f"no volume named {mount.name!r}")
            )
    return problems


def _without_invalid_values(data: dict, error: ValidationError) -> GemhubConfig | None:
    """The config with each invalid value dropped (so its default applies), so that
    cross-field rules can still be checked and every problem is reported in one go."""
    data = copy.deepcopy(data)
    for _ in range(5):
        for err in error.errors():
            node, loc = data, [p for p in err["loc"] if p != "[key]"]
            for key in loc[:-1]:
                node = node[key] if isinstance(node, (dict, list)) else None
            if loc and isinstance(node, dict):
                node.pop(loc[-1], None)
            elif loc and isinstance(node, list) and isinstance(loc[-1], int) and loc[-1] < len(node):
                node.pop(loc[-1])
        try:
            return GemhubConfig.model_validate(data)
        except ValidationError as again:
            error = again
        except (KeyError, IndexError, TypeError):
            return None
    return None


def validate_data(data: Any, source: str = "<config>", text: str = "") -> GemhubConfig:
    """Validate already-parsed config data; raise ConfigError listing every problem."""
    index = _line_index(text) if text else {}
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError(source, [Problem("", "the top level must be a mapping of sections (hub, auth, ...)")])
    try:
        cfg = GemhubConfig.model_validate(data)
    except ValidationError as error:
        problems = _schema_problems(error)
        partial = _without_invalid_values(data, error)
        if partial is not None:
            reported = {p.path for p in problems}
            problems += [p for p in _cross_field_problems(partial) if p.path not in reported]
    else:
        problems = _cross_field_problems(cfg)
    if problems:
        located = [Problem(p.path, p.message, _line_for(p.path, index)) for p in problems]
        raise ConfigError(source, located)
    return cfg


def apply_overrides(data: dict, overrides: dict[str, Any]) -> dict:
    """Set dotted keys (`spawner.type`) in a copy of the raw data, as CLI flags do."""
    data = copy.deepcopy(data)
    for dotted, value in overrides.items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    return data


def load_config(path: str | Path | None, overrides: dict[str, Any] | None = None) -> GemhubConfig:
    """Read and validate a gemhub.yaml; None means the built-in defaults."""
    if path is None:
        return validate_data(apply_overrides({}, overrides or {}), "<defaults>")
    path = Path(path)
    source = str(path)
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise ConfigError(source, [Problem("", "file not found")]) from None
    except OSError as error:
        raise ConfigError(source, [Problem("", f"cannot read: {error.strerror}")]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        line = mark.line + 1 if mark else None
        reason = getattr(error, "problem", None) or str(error)
        raise ConfigError(source, [Problem("", f"not valid YAML: {reason}", line)]) from None
    if overrides and isinstance(data or {}, dict):
        data = apply_overrides(data or {}, overrides)
    return validate_data(data, source, text)
