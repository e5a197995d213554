"""Make a bare ``SHConfig()`` work in every kernel of a gemhub server.

sentinelhub-py takes only ``SH_CLIENT_ID``/``SH_CLIENT_SECRET`` from the
environment; everything else (the deployment's URLs) comes from a profile in
its ``config.toml`` (``SHConfig.get_config_location()``; the profile is
``$SH_PROFILE``, else ``default-profile``). So at server start this
jupyter_server extension:

1. writes a gemhub-managed profile ``[gemhub]`` into that file, leaving every
   other profile (the user's own) as it was: the file is parsed, only
   ``[gemhub]`` is replaced, and the result written atomically, mode 0600.
   - with the user's own credentials (``SH_CLIENT_ID`` set by the hub at
     spawn): ``sh_base_url``/``sh_token_url`` from ``GEMHUB_SH_BASE_URL``/
     ``GEMHUB_SH_TOKEN_URL``; the id and secret stay in the environment only,
     never in the file;
   - without: the offline sandbox (``GEMHUB_SANDBOX_URL``) with its token URL
     and its client (``GEMHUB_SANDBOX_CLIENT_ID``/``_SECRET``: the sandbox's own
     throwaway client, not a user secret).
2. sets ``SH_PROFILE=gemhub`` in this server's environment, which every kernel
   it starts inherits, unless the user chose a profile (``SH_PROFILE`` already
   set), which is then left alone.
3. keeps ``~/README-gemhub.md`` in the server's root folder while the server is
   on sandbox data, so the user sees it in JupyterLab's file browser, and
   removes it (only if gemhub wrote it) once they have credentials.

Nothing here ever logs a credential: the log says which endpoint was chosen.
"""

from __future__ import annotations

import logging
import os
import tempfile
from pathlib import Path

PROFILE = "gemhub"
PROFILE_ENV = "SH_PROFILE"
DEFAULT_PROFILE = "default-profile"
TOKEN_PATH = "/auth/realms/main/protocol/openid-connect/token"
NOTICE_FILE = "README-gemhub.md"
NOTICE_MARKER = "<!-- gemhub-managed: removed automatically once you have credentials -->"
NOTICE = """# You are on sandbox data

This server has no Sentinel Hub credentials of yours, so `SHConfig()` (and
`gemhub_workspace.sh_config()`) use gemhub's **offline sandbox**: synthetic
imagery, not real satellite data.

{how_to}

{marker}
"""
HOW_TO_ON_HUB = """To work with real data, set your Sentinel Hub credentials at
[{credentials_url}]({credentials_url}) and then **restart your server**
(File → Hub Control Panel → Stop My Server, then Start My Server)."""
HOW_TO_ELSEWHERE = """To work with real data (e.g. on Binder), set your own Sentinel Hub OAuth
client in the notebook before using it, without printing it:

```python
import os, getpass
os.environ["SH_CLIENT_ID"] = getpass.getpass("Sentinel Hub client id")
os.environ["SH_CLIENT_SECRET"] = getpass.getpass("Sentinel Hub client secret")
```

`gemhub_workspace.sh_config()` then uses Sentinel Hub instead of the sandbox."""


def started_by_gemhub_hub(environ=None) -> bool:
    """A gemhub hub's server (it has a credentials page), not Binder or a plain Jupyter."""
    env = os.environ if environ is None else environ
    return bool(env.get("GEMHUB_SH_BASE_URL") and env.get("JUPYTERHUB_API_URL"))


def how_to_get_real_data(environ=None) -> str:
    if started_by_gemhub_hub(environ):
        return HOW_TO_ON_HUB.format(credentials_url=credentials_url(environ))
    return HOW_TO_ELSEWHERE


log = logging.getLogger("gemhub.shprofile")


def config_location() -> Path:
    """sentinelhub-py's own answer (it honours $XDG_CONFIG_HOME)."""
    try:
        from sentinelhub.config import SHConfig

        return Path(SHConfig.get_config_location())
    except ImportError:  # pragma: no cover - the user environment always has sentinelhub
        folder = os.getenv("XDG_CONFIG_HOME", os.path.expanduser("~/.config"))
        return Path(folder) / "sentinelhub" / "config.toml"


def choose_profile(environ=None) -> tuple[str, dict[str, str]]:
    """(which endpoint, the [gemhub] profile's values); ("none", {}) when there is neither."""
    env = os.environ if environ is None else environ
    if env.get("SH_CLIENT_ID"):
        values = {}
        if env.get("GEMHUB_SH_BASE_URL"):
            values["sh_base_url"] = env["GEMHUB_SH_BASE_URL"].rstrip("/")
        if env.get("GEMHUB_SH_TOKEN_URL"):
            values["sh_token_url"] = env["GEMHUB_SH_TOKEN_URL"]
        return "user", values
    if env.get("GEMHUB_SANDBOX_URL"):
        url = env["GEMHUB_SANDBOX_URL"].rstrip("/")
        return "sandbox", {
            "sh_base_url": url,
            "sh_token_url": url + TOKEN_PATH,
            "sh_client_id": env.get("GEMHUB_SANDBOX_CLIENT_ID", ""),
            "sh_client_secret": env.get("GEMHUB_SANDBOX_CLIENT_SECRET", ""),
        }
    return "none", {}


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


def credentials_url(environ=None) -> str:
    env = os.environ if environ is None else environ
    base = env.get("JUPYTERHUB_BASE_URL") or "/"
    return base.rstrip("/") + "/services/credentials/"


def update_notice(root: Path, on_sandbox: bool, environ=None) -> None:
    """Keep README-gemhub.md in `root` while on the sandbox; remove our own copy otherwise."""
    path = root / NOTICE_FILE
    ours = False
    try:
        ours = path.is_file() and not path.is_symlink() and NOTICE_MARKER in path.read_text(errors="replace")
    except OSError:
        pass
    if on_sandbox:
        if os.path.lexists(path) and not ours:
            return  # the user's own file of that name: never overwritten
        text = NOTICE.format(marker=NOTICE_MARKER, how_to=how_to_get_real_data(environ))
        tmp = path.with_name(f".{NOTICE_FILE}.tmp")
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    elif ours:
        path.unlink(missing_ok=True)


def setup(root: Path | None = None, logger: logging.Logger | logging.LoggerAdapter = log) -> str:
    """Write the profile, set SH_PROFILE, update the notice; returns the endpoint chosen."""
    endpoint, values = choose_profile()
    if endpoint == "none":
        logger.info("gemhub: no Sentinel Hub credentials and no sandbox; SHConfig() keeps its defaults")
        return endpoint
    path = config_location()
    try:
        write_profile(path, values)
    except Exception as error:
        # Never the content: the file may hold the user's own credentials.
        logger.warning(
            "gemhub: could not write the [%s] profile to %s (%s); SHConfig() will not find the %s "
            "endpoint (gemhub_workspace.sh_config() still does)", PROFILE, path, type(error).__name__, endpoint,
        )
        return endpoint
    user_profile = os.environ.get(PROFILE_ENV)
    if user_profile in (None, "", PROFILE):
        os.environ[PROFILE_ENV] = PROFILE
        user_profile = None
    if values.get("sh_token_url", "").startswith("http://"):
        # A plain-HTTP token endpoint (the loopback sandbox); oauthlib refuses those unless told.
        os.environ["OAUTHLIB_INSECURE_TRANSPORT"] = "1"
    where = "the user's own Sentinel Hub credentials at" if endpoint == "user" else "the gemhub sandbox (synthetic data) at"
    logger.info(
        "gemhub: SHConfig() uses %s %s (profile [%s] in %s%s)",
        where, values.get("sh_base_url", "the default Sentinel Hub URL"), PROFILE, path,
        f"; SH_PROFILE={user_profile} was set by the user and is kept" if user_profile else "",
    )
    if root is not None:
        try:
            update_notice(root, endpoint == "sandbox")
        except OSError as error:
            logger.warning("gemhub: could not update %s (%s)", root / NOTICE_FILE, type(error).__name__)
    return endpoint


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
