"""What clients and the sandbox agree on: paths and environment variable names.

Defined once here (the sandbox package is installed in both environments) and
imported by the server, the runner, the hub and the workspace.
"""

from __future__ import annotations

TOKEN_PATH = "/auth/realms/main/protocol/openid-connect/token"
PROCESS_PATH = "/api/v1/process"
CATALOG_PREFIX = "/api/v1/catalog/1.0.0"
HEALTH_PATH = "/sandbox/health"
# The clients a sandbox accepts: JSON {client id: secret}.
CLIENTS_ENV = "GEMHUB_SANDBOX_CLIENTS"
