"""`gemhub credentials`: set, remove, list and re-key users' stored credentials.

Secrets are write-only here: they come in on stdin or a hidden prompt (never
as arguments, which any user can read in `ps` and shells keep in history) and
are never printed back; `list` shows which client and a fingerprint instead.
The CLI encrypts with the key the hub decrypts with: $JUPYTERHUB_CRYPT_KEY,
or for the embedded hub the key file `gemhub up` exports from its data folder.
"""

from __future__ import annotations

import difflib
import getpass
import sys

import click

from ..credentials.providers import PROVIDERS, InvalidCredentials, get_provider
from .errors import CommandError
from .options import config_option, load_or_exit

PREFIX = "gemhub credentials"

# The non-secret fields of every provider become options of `set`
# (--client-id, --access-key-id, --endpoint-url); secret fields never do.
PUBLIC_OPTIONS: dict[str, str] = {}
_PUBLIC_HELP: dict[str, list[str]] = {}
for _provider in PROVIDERS.values():
    for _field in _provider.public_fields:
        PUBLIC_OPTIONS.setdefault(_field.name, "--" + _field.name.replace("_", "-"))
        _PUBLIC_HELP.setdefault(_field.name, []).append(
            f"{_provider.name}: {_field.label}{'' if _field.required else ' (optional)'}"
        )

SECRET_OPTIONS = {"--" + f.name.replace("_", "-") for p in PROVIDERS.values() for f in p.secret_fields}


def public_field_options(command):
    for name in reversed(PUBLIC_OPTIONS):
        command = click.option(PUBLIC_OPTIONS[name], name, help="; ".join(_PUBLIC_HELP[name]) + ".")(command)
    return command


def problem(message: str) -> CommandError:
    """The error every `gemhub credentials` command stops with: its prefix, exit 2."""
    return CommandError(f"{PREFIX}: {message}")


def open_store(config_file: str | None, create_key: bool = False):
    """The CredentialStore of the config's hub database, with the key the hub uses.

    Imported here, not at the top: SQLAlchemy and JupyterHub's crypto would
    otherwise slow every `gemhub` command down.
    """
    from ..credentials import keys as crypt_keys
    from ..credentials.store import CredentialStore
    from ..paths import Paths

    cfg = load_or_exit(config_file)
    paths = Paths.of(cfg, config_file)
    paths.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    key = crypt_keys.resolve_key(paths.data_dir, create=create_key)
    try:
        return CredentialStore(paths.db_url, keys=key or "")
    except Exception as error:  # a database that cannot be opened: say which, briefly, without its password
        from sqlalchemy.engine import make_url

        try:
            where = make_url(paths.db_url).render_as_string(hide_password=True)
        except Exception:
            where = "(unparsable db_url)"
        first_line = str(error).splitlines()[0]
        raise problem(f"cannot open the hub database {where}: {type(error).__name__}: {first_line}") from None


class NoEchoCommand(click.Command):
    """Usage errors without the offending arguments: they may be a pasted secret."""

    def parse_args(self, ctx: click.Context, args: list[str]) -> list[str]:
        try:
            return super().parse_args(ctx, args)
        except click.NoSuchOption as error:
            name = error.option_name.split("=", 1)[0]
            # A secret that starts with "-" arrives here as an "option": name
            # only an option someone plausibly meant (a secret field, a typo).
            real = [opt for param in self.get_params(ctx) for opt in param.opts]
            shown = name if name in SECRET_OPTIONS or difflib.get_close_matches(name, real, 1, 0.8) else "(not shown)"
            raise click.UsageError(
                f"no such option: {shown} (secrets are never taken as arguments: use --secret-stdin or the prompt)",
                ctx) from None
        except click.UsageError as error:
            if "unexpected extra argument" in error.message.lower():
                raise click.UsageError(
                    "unexpected extra arguments (not shown; secrets are never taken as arguments: "
                    "use --secret-stdin or the prompt)", ctx) from None
            raise


def _read_secrets(provider, from_stdin: bool) -> dict[str, str]:
    fields = provider.secret_fields
    if from_stdin:
        lines = sys.stdin.read().splitlines()
        # One secret per line, in field order; trailing blank lines are ignored.
        while lines and not lines[-1].strip():
            lines.pop()
        if len(lines) > len(fields):
            names = ", ".join(f.name for f in fields)
            raise problem(f"expected {len(fields)} line(s) on stdin ({names}), got {len(lines)}")
        return {f.name: (lines[i] if i < len(lines) else "") for i, f in enumerate(fields)}
    if not sys.stdin.isatty():
        raise problem("no terminal to prompt for the secret: pipe it in with --secret-stdin")
    return {
        f.name: click.prompt(f"{provider.name} {f.label}", hide_input=True, confirmation_prompt=True, err=True)
        for f in fields
    }


@click.group()
def credentials() -> None:
    """Users' own credentials (Sentinel Hub, meteoblue, S3), given to their servers at spawn."""


@credentials.command("set", cls=NoEchoCommand)
@config_option
@click.argument("user")
@click.option("--provider", "provider_name", default="sentinelhub", show_default=True,
              help=f"One of: {', '.join(PROVIDERS)}.")
@public_field_options
@click.option("--secret-stdin", is_flag=True,
              help="Read the secret from stdin (one line per secret field) instead of prompting.")
@click.option("--by", default=lambda: f"cli:{getpass.getuser()}", show_default="cli:$USER",
              help="Recorded as who set it.")
def set_(config_file, user, provider_name, secret_stdin, by, **public) -> None:
    """Store USER's credentials for a provider (replacing any), encrypted.

    The secret is read from stdin or a hidden prompt, never from arguments:

        printf %s "$SH_CLIENT_SECRET" | gemhub credentials set alice --client-id ID --secret-stdin
    """
    try:
        provider = get_provider(provider_name)
    except InvalidCredentials as error:
        raise problem(str(error)) from None
    values = {}
    for name, value in public.items():
        if value is None:
            continue
        if name not in provider.field_names:
            raise problem(f"{PUBLIC_OPTIONS[name]} does not apply to provider {provider.name!r}")
        values[name] = value
    store = open_store(config_file, create_key=True)
    if store.key_problem:  # before asking for a secret that could not be stored
        raise problem(store.key_problem)
    values.update(_read_secrets(provider, secret_stdin))
    from ..credentials.store import CredentialsUnavailable

    try:
        summary = store.set(user, provider.name, values, by=by)
    except (InvalidCredentials, CredentialsUnavailable) as error:
        raise problem(str(error)) from None
    finally:
        store.close()
    click.echo(f"stored {summary.provider} credentials for {summary.user}: "
               f"id {summary.id_hint}, secret {summary.fingerprint}")


@credentials.command()
@config_option
@click.argument("user")
@click.option("--provider", "provider_name", help="Only this provider's (default: all of USER's).")
def unset(config_file, user, provider_name) -> None:
    """Remove USER's stored credentials (for one provider, or all)."""
    if provider_name is not None:
        try:
            get_provider(provider_name)
        except InvalidCredentials as error:
            raise problem(str(error)) from None
    with open_store(config_file) as store:
        removed = store.unset(user, provider_name)
    what = f"{provider_name} credentials" if provider_name else "credentials"
    click.echo(f"removed {removed} {what} of {user}" if removed else f"no {what} stored for {user}")


@credentials.command("list")
@config_option
@click.argument("user", required=False)
def list_(config_file, user) -> None:
    """Show stored credentials (never the secrets), and whether the key reads them."""
    with open_store(config_file) as store:
        summaries = store.describe(user, check=True)
        problem = store.key_problem
    if not summaries:
        click.echo(f"no credentials stored{f' for {user}' if user else ''}")
        return
    header = ("USER", "PROVIDER", "ID", "SECRET", "SET AT", "SET BY", "STATUS")
    rows = [header] + [
        (s.user, s.provider, s.id_hint, s.fingerprint, s.set_at.strftime("%Y-%m-%d %H:%M UTC"), s.set_by, s.status)
        for s in summaries
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    for r in rows:
        click.echo("  ".join(cell.ljust(w) for cell, w in zip(r, widths)).rstrip())
    if problem:
        click.echo(problem, err=True)
    elif any(s.status == "old key" for s in summaries):
        click.echo("some credentials use an older key: `gemhub credentials rotate` re-encrypts them", err=True)
    elif any(s.status == "unreadable" for s in summaries):
        click.echo("credentials are unavailable: some do not decrypt with JUPYTERHUB_CRYPT_KEY", err=True)


@credentials.command()
@config_option
def rotate(config_file) -> None:
    """Re-encrypt every credential with the first key of JUPYTERHUB_CRYPT_KEY.

    Rotate a key by setting JUPYTERHUB_CRYPT_KEY="NEW;OLD" (hub and CLI), running
    this, then dropping OLD.
    """
    from ..credentials.store import CredentialsUnavailable

    with open_store(config_file) as store:
        try:
            count = store.rotate()
        except CredentialsUnavailable as error:
            raise problem(str(error)) from None
    click.echo(f"re-encrypted {count} credential(s) with the first key")
