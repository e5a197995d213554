"""Make a bare ``SHConfig()`` work in every kernel of a gemhub server.

sentinelhub-py takes only ``SH_CLIENT_ID``/``SH_CLIENT_SECRET`` from the
environment; everything else (the deployment's URLs) comes from a profile in
its ``config.toml`` (``SHConfig.get_config_location()``; the profile is
``$SH_PROFILE``, else ``default-profile``). So at server start this
jupyter_server extension:

1. writes a gemhub-managed profile ``[gemhub]`` into that file, leaving every
   other profile (the user's own) as it was: the file is parsed, only
   ``[gemhub]`` is replaced, and the result written atomically, mode 0600. Its
   values are the endpoint ``endpoint.decide()`` chose: the user's own deployment
   URLs (their id and secret stay in the environment only, never in the file),
   or the offline sandbox with its URLs and its client (the sandbox's own
   throwaway client, not a user secret);
2. sets ``SH_PROFILE=gemhub`` in this server's environment, which every kernel
   it starts inherits, unless the user chose a profile (``SH_PROFILE`` already
   set), which is then left alone; and what the endpoint needs in the
   environment (oauthlib's leave for a plain-HTTP token URL);
3. keeps the "you are on sandbox data" ``README-gemhub.md`` in the server's root
   folder up to date (``notice.update_notice``).

Nothing here ever logs a credential: the log says which endpoint was chosen.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

from .endpoint import NONE, SANDBOX, USER, decide
from .notice import NOTICE_FILE, update_notice

PROFILE = "gemhub"
PROFILE_ENV = "SH_PROFILE"
DEFAULT_PROFILE = "default-profile"


log = logging.getLogger("gemhub.shprofile")


def config_location() -> Path:
    """sentinelhub-py's own answer (it honours $XDG_CONFIG_HOME)."""
    try:
        from sentinelhub.config import SHConfig

        return Path(SHConfig.get_config_location())
    except ImportError:  # pragma: no cover - the user environment always has sentinelhub
        folder = os.getenv("XDG_CONFIG_HOME", os.path.expanduser("~/.config"))
        return Path(folder) / "sentinelhub" / "config.toml"


def write_profile(path: Path, values: dict[str, str]) -> None:
    """Replace only [gemhub] in the TOML file at `path` (made if missing); atomic, 0600.

    Raises ValueError (tomllib.TOMLDecodeError) when the existing file is not valid
    TOML: it is then left untouched rather than rewritten without the user's profiles.
    """
    import tomllib

    import tomli_w

    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        current = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        # What sentinelhub-py writes on first use, so `SH_PROFILE= SHConfig()` still works.
        current = {DEFAULT_PROFILE: {}}
    current[PROFILE] = dict(values)
    fd, tmp = tempfile.mkstemp(prefix=".config.toml.", dir=path.parent)
    try:
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "wb") as out:
            tomli_w.dump(current, out)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def setup(root: Path | None = None, logger: logging.Logger | logging.LoggerAdapter = log) -> str:
    """Write the profile, set SH_PROFILE, update the notice; returns the kind of endpoint chosen."""
    endpoint = decide()
    if endpoint.kind == NONE:
        logger.info("gemhub: no Sentinel Hub credentials and no sandbox; SHConfig() keeps its defaults")
        return endpoint.kind
    values = endpoint.profile()
    path = config_location()
    try:
        write_profile(path, values)
    except Exception as error:
        # Never the content: the file may hold the user's own credentials.
        logger.warning(
            "gemhub: could not write the [%s] profile to %s (%s); SHConfig() will not find the %s "
            "endpoint (gemhub_workspace.sh_config() still does)", PROFILE, path, type(error).__name__, endpoint.kind,
        )
        return endpoint.kind
    user_profile = os.environ.get(PROFILE_ENV)
    if user_profile in (None, "", PROFILE):
        os.environ[PROFILE_ENV] = PROFILE
        user_profile = None
    os.environ.update(endpoint.environment())
    where = "the user's own Sentinel Hub credentials at" if endpoint.kind == USER else "the gemhub sandbox (synthetic data) at"
    logger.info(
        "gemhub: SHConfig() uses %s %s (profile [%s] in %s%s)",
        where, values.get("sh_base_url", "the default Sentinel Hub URL"), PROFILE, path,
        f"; SH_PROFILE={user_profile} was set by the user and is kept" if user_profile else "",
    )
    if root is not None:
        try:
            update_notice(root, endpoint.kind == SANDBOX)
        except OSError as error:
            logger.warning("gemhub: could not update %s (%s)", root / NOTICE_FILE, type(error).__name__)
    return endpoint.kind


def _server_root(serverapp) -> Path | None:
    root = getattr(serverapp, "root_dir", None) or getattr(getattr(serverapp, "contents_manager", None), "root_dir", None)
    return Path(os.path.expanduser(root)) if root else None


def _load_jupyter_server_extension(serverapp) -> None:
    try:
        setup(_server_root(serverapp), serverapp.log)
    except Exception as error:  # never stop the user's server over this
        serverapp.log.warning("gemhub: Sentinel Hub profile setup failed (%s)", type(error).__name__)


def _jupyter_server_extension_points():
    return [{"module": "gemhub_workspace.shprofile"}]
