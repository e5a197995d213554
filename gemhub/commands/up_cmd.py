"""`gemhub up`: run the hub in the foreground, as the embedded default does."""

from __future__ import annotations

import json
import os
import shutil
import sys

import click

from .errors import CommandError
from .options import config_option, load_or_exit


def default_user_image() -> str:
    """What `--spawner docker` runs when the config names no image: the moving tag of the
    last `gemhub images build user`."""
    from ..images import repository
    from ..images.tags import MOVING_TAG

    return f"{repository('user')}:{MOVING_TAG}"


def _preflight(cfg, paths) -> list[str]:
    """Things missing on this machine that would make the hub fail later, less clearly."""
    from ..paths import proxy_command

    missing = []
    if cfg.spawner.type == "local":
        singleuser = paths.user_env / "bin" / "jupyterhub-singleuser"
        if not singleuser.exists():
            missing.append(f"user environment: {singleuser} not found (run `make envs` in a checkout, "
                           "or set spawner.local.user_env)")
    if cfg.spawner.type == "docker":
        from ..hub.docker_spawner import preflight

        missing += preflight([cfg.spawner.image] + [p.image for p in cfg.spawner.profiles if p.image])
    if cfg.hub.external_proxy:
        if not os.environ.get("CONFIGPROXY_AUTH_TOKEN"):
            missing.append("hub.external_proxy: set CONFIGPROXY_AUTH_TOKEN to the token the proxy was started with")
    elif not shutil.which(proxy_command()):
        missing.append(f"proxy: {proxy_command()} not found (run `make proxy` in a checkout, "
                       "or `npm install -g configurable-http-proxy`)")
    return missing


def _announce_passwords(created: dict[str, str]) -> None:
    if not created:
        return
    click.secho("New demo logins (shown only this once; `gemhub passwd USER` makes a new one):", bold=True)
    for user, password in created.items():
        click.echo(f"    user: {user:<12} password: {password}")


@click.command()
@config_option
@click.option(
    "--spawner",
    type=click.Choice(["local", "docker", "kubernetes"]),
    help="Override spawner.type (docker without spawner.image: gemhub/user:latest, from `gemhub images build`).",
)
@click.option("--port", type=int, help="Override hub.port.")
def up(config_file: str | None, spawner: str | None, port: int | None) -> None:
    """Start the hub in the foreground; Ctrl-C stops it and every server it started."""
    # Imported here: the hub layer pulls in JupyterHub, which `gemhub --help` should not wait for.
    from ..hub import demo_passwords
    from ..hub.configure import public_url
    from ..hub.services import curation_wanted
    from ..paths import CONFIG_ENV, CONFIG_OVERRIDES_ENV, HUB_CONFIG_FILE, Paths
    from ..signals import restore_default_signals

    overrides = {k: v for k, v in (("spawner.type", spawner), ("hub.port", port)) if v is not None}
    if spawner == "docker" and not load_or_exit(config_file).spawner.image:
        overrides["spawner.image"] = default_user_image()
    cfg = load_or_exit(config_file, overrides)
    paths = Paths.of(cfg, config_file)
    missing = _preflight(cfg, paths)
    if missing:
        raise CommandError("gemhub up: cannot start:\n  " + "\n  ".join(missing))
    paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    if cfg.auth.type == "demo":
        users = sorted(set(cfg.auth.demo.users) | set(cfg.auth.admin_users))
        _announce_passwords(demo_passwords.ensure(paths.data_dir / demo_passwords.FILENAME, users))
    click.echo(f"gemhub: hub starting at {public_url(cfg)}  (state in {paths.data_dir}; Ctrl-C stops it)")
    if curation_wanted(cfg, paths):
        click.echo(f"gemhub: testing the curated notebooks of {paths.notebooks_dir} in the background; the "
                   "marketplace shows each one as it passes")
    sys.stdout.flush()
    env = dict(os.environ, **{CONFIG_OVERRIDES_ENV: json.dumps(overrides)})
    # The key that encrypts users' stored credentials (and JupyterHub's auth_state):
    # the deployment's $JUPYTERHUB_CRYPT_KEY, else the embedded hub's <data_dir>/crypt-key,
    # the same one `gemhub credentials` reads. Never printed.
    from ..credentials.keys import KEY_ENV, resolve_key

    env[KEY_ENV] = resolve_key(paths.data_dir, environ=env)
    if config_file:
        env[CONFIG_ENV] = os.path.abspath(config_file)
    else:
        env.pop(CONFIG_ENV, None)
    os.chdir(paths.data_dir)
    restore_default_signals()  # an ignored SIGINT (nohup, `&` in a script) would outlive exec
    argv = [sys.executable, "-m", "gemhub.hub.app", "-f", str(HUB_CONFIG_FILE)]
    os.execvpe(argv[0], argv, env)


@click.command()
@config_option
@click.argument("user")
def passwd(config_file: str | None, user: str) -> None:
    """Give demo USER a new generated password (auth.type: demo)."""
    from ..hub import demo_passwords
    from ..paths import Paths

    cfg = load_or_exit(config_file)
    users = set(cfg.auth.demo.users) | set(cfg.auth.admin_users)
    if cfg.auth.type != "demo" or user not in users:
        raise CommandError(f"gemhub passwd: {user!r} is not a demo user of this config (auth.demo.users)")
    paths = Paths.of(cfg, config_file)
    password = demo_passwords.reset(paths.data_dir / demo_passwords.FILENAME, user)
    click.echo(f"user: {user}  password: {password}  (takes effect at the next login)")
