"""How a `gemhub` command stops on a problem the user can fix.

Every command raises `CommandError` instead of printing and calling
`SystemExit` itself, so click does the exiting (and `CliRunner` sees it) and
all commands agree on the codes: 2 for input gemhub cannot work with (a bad
config, a missing image, a wrong option combination), 1 for a check that ran
and found problems.
"""

from __future__ import annotations

import click

BAD_INPUT = 2
CHECK_FAILED = 1


class CommandError(click.ClickException):
    """A one-line (or few-line) message on stderr, printed as is, then exit `exit_code`.

    click's own `ClickException` prefixes "Error: "; gemhub's messages already
    say which command speaks ("gemhub images build: ..."), and scripts and tests
    match on them, so they are shown unchanged.
    """

    def __init__(self, message: str, exit_code: int = BAD_INPUT) -> None:
        super().__init__(message)
        self.exit_code = exit_code

    def show(self, file=None) -> None:
        click.echo(self.format_message(), err=True, file=file)
