# JupyterHub configuration for every gemhub target (local, docker, kubernetes),
# shipped inside the package so an installed gemhub (a wheel, the hub image)
# has it: `gemhub up` runs `jupyterhub -f` on this file (gemhub.paths.HUB_CONFIG_FILE),
# and hub_config/jupyterhub_config.py, the documented entry point, loads it.
# JupyterHub executes it as a config file; it is not meant to be imported.
#
# Nothing here differs between targets: the validated gemhub.yaml named by
# $GEMHUB_CONFIG (built-in defaults when unset) decides everything, through
# gemhub.hub.configure. An invalid config stops the hub before it starts, with
# the same message `gemhub config validate` prints.
import os
import sys

from gemhub.config import ConfigError, load_config
from gemhub.hub import configure
from gemhub.paths import CONFIG_ENV, config_overrides_from_env
from gemhub.signals import restore_default_signals

c = get_config()  # noqa: F821 (given by JupyterHub's config loader)

# Before any service starts: they inherit this process's dispositions, and an
# ignored SIGINT (a hub started by nohup or a script's `&`) would stay ignored.
restore_default_signals()

config_file = os.environ.get(CONFIG_ENV) or None
overrides = config_overrides_from_env()
try:
    gemhub_config = load_config(config_file, overrides)
    configure(c, gemhub_config, config_file)  # raises ConfigError for a missing hub.config_d
except ConfigError as error:
    print(f"gemhub: invalid configuration, the hub will not start:\n{error}", file=sys.stderr)
    sys.exit(2)
