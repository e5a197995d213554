"""One module per `gemhub` subcommand group."""
