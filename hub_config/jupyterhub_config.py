# JupyterHub configuration for every gemhub target (local, docker, kubernetes):
#   jupyterhub -f hub_config/jupyterhub_config.py
#
# The configuration itself ships inside the gemhub package
# (gemhub/hub/jupyterhub_config.py, what `gemhub up` runs), so an installed
# gemhub works without this checkout; this file only loads it. The validated
# gemhub.yaml named by $GEMHUB_CONFIG (built-in defaults when unset) decides
# everything.
from gemhub.paths import HUB_CONFIG_FILE

load_subconfig(str(HUB_CONFIG_FILE))  # noqa: F821 (given by JupyterHub's config loader)
