"""The typed model of gemhub.yaml.

This model is the single source of truth for configuration: the hub validates
against it at start, `gemhub config validate` reports its errors, and the
README's configuration reference is generated from its field descriptions.
Every section forbids unknown keys so that a typo is an error, not a silently
ignored setting.
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from gemhub_sandbox.contract import TOKEN_PATH
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, field_validator, model_validator

from .kubernetes import (
    EnvFrom,
    ImagePullPolicy,
    NodeAffinity,
    NodeSelector,
    ObjectName,
    Toleration,
    Volume,
    VolumeMount,
)

USERNAME = r"^[a-z0-9][a-z0-9._-]{0,63}$"
MEMORY = r"^[0-9]+(\.[0-9]+)?[KMGT]?$"
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# traitlets' Config takes a capitalised key as a class (section), any other as a trait.
CLASS_NAME = r"^[A-Z][A-Za-z0-9_]*$"
TRAIT_NAME = r"^[a-z_][A-Za-z0-9_]*$"

def _http_url(value: str) -> str:
    if not re.match(r"^https?://[^/\s]+", value):
        raise ValueError(f"must be an http(s) URL (got {value!r})")
    return value


HttpUrl = Annotated[str, AfterValidator(_http_url)]
Username = Annotated[str, Field(pattern=USERNAME)]
Port = Annotated[int, Field(ge=1, le=65535)]
Memory = Annotated[str, Field(pattern=MEMORY, examples=["512M", "2G"])]
EnvName = Annotated[str, Field(pattern=ENV_NAME)]
ClassName = Annotated[str, Field(pattern=CLASS_NAME)]
TraitName = Annotated[str, Field(pattern=TRAIT_NAME)]


class Section(BaseModel):
    """Base of every section: unknown keys are errors, assignments are checked."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class HubSection(Section):
    ip: str = Field(
        "127.0.0.1",
        description="Address the public proxy listens on. Keep the loopback "
        "default unless the hub is behind TLS or a trusted network.",
    )
    port: Port = Field(8000, description="Public port of the proxy (the URL users open).")
    base_url: str = Field("/", description="URL prefix of the hub, starting and ending with '/'.")
    api_port: Port = Field(8081, description="Port of the hub's internal API (user servers call it).")
    proxy_api_port: Port = Field(8001, description="Port of the proxy's REST API (the hub calls it).")
    external_proxy: bool = Field(
        False,
        description="The proxy runs on its own (the gemhub/proxy image, a proxy pod) instead of as the hub's "
        "child; the hub reaches its API at proxy_api_url and both read the shared token from "
        "CONFIGPROXY_AUTH_TOKEN.",
    )
    proxy_api_url: HttpUrl | None = Field(
        None,
        description="The external proxy's REST API. Default: http://127.0.0.1:<proxy_api_port>.",
    )
    data_dir: str | None = Field(
        None,
        description="Folder for the hub's state: database, cookie secret, demo "
        "passwords and (local spawner) users' homes. Relative paths are relative "
        "to the config file. Default: `data` in gemhub's state folder (`$GEMHUB_HOME`, else `.gemhub` in the gemhub checkout, else `~/.local/share/gemhub`).",
    )
    db_url: str | None = Field(
        None,
        description="SQLAlchemy URL of the hub database. Default: sqlite file in data_dir. A postgresql:// URL "
        "is opened with psycopg 3 (in the hub image; `pip install gemhub[postgres]` elsewhere); leave its password "
        "out and set PGPASSWORD (and PGSSLMODE if needed) for the hub, which passes both on to the credentials "
        "service.",
        examples=["postgresql://gemhub@127.0.0.1:5432/gemhub"],
    )
    credentials_service: bool = Field(
        True,
        description="Run the credentials page and admin API as a hub service at /services/credentials/: "
        "users store their own provider credentials there, encrypted with JUPYTERHUB_CRYPT_KEY in the hub "
        "database.",
    )
    credentials_port: Port = Field(
        8030, description="Port of the credentials service on `services_bind_ip` (the hub proxies it)."
    )
    services_bind_ip: str = Field(
        "127.0.0.1",
        description="Address the hub's own services listen on: the sandbox, the marketplace and the "
        "credentials service. Loopback keeps them reachable only from this machine, which is all the local "
        "and docker targets need (their proxy and user servers share the host's network). `0.0.0.0` when "
        "the proxy and user servers run elsewhere (the Helm chart: other pods, with NetworkPolicies "
        "limiting who may connect); `services_host` must then name the hub.",
    )
    services_host: str | None = Field(
        None,
        description="Host name or address the proxy and user servers reach those services at: the hub gives "
        "the proxy `http://<services_host>:<port>` for the marketplace and credentials service, and user "
        "servers GEMHUB_SANDBOX_URL on it. Default: `services_bind_ip` (right when that is a single address "
        "such as loopback).",
        examples=["gemhub-hub"],
    )
    extra_config: dict[ClassName, dict[TraitName, JsonValue]] = Field(
        {},
        description="Any other JupyterHub trait, by class and trait name, with a JSON value: "
        "`{JupyterHub: {concurrent_spawn_limit: 50}}` sets `c.JupyterHub.concurrent_spawn_limit`. Applied after "
        "gemhub's own settings, so it wins over them; a value replaces the trait's whole value (no merging). "
        "The escape hatch for what gemhub.yaml does not name (z2jh `hub.config`).",
        examples=[{"JupyterHub": {"concurrent_spawn_limit": 50}, "KubeSpawner": {"start_timeout": 600}}],
    )
    config_d: str | None = Field(
        None,
        description="Folder of extra JupyterHub config files (`*.py`), run in sorted name order after gemhub's "
        "settings and `extra_config`, with `c` the hub's config (as z2jh `hub.extraConfig` and TLJH "
        "`jupyterhub_config.d`). Relative to the config file; the hub does not start if it is missing.",
    )

    @field_validator("base_url")
    @classmethod
    def _slashes(cls, value: str) -> str:
        if not (value.startswith("/") and value.endswith("/")):
            raise ValueError(f"must start and end with '/' (got {value!r})")
        return value

    @field_validator("ip", "services_bind_ip")
    @classmethod
    def _ip(cls, value: str) -> str:
        import ipaddress

        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"must be an IP address such as 127.0.0.1 (got {value!r})") from None
        return value

    @field_validator("services_host")
    @classmethod
    def _services_host(cls, value: str | None) -> str | None:
        import ipaddress

        if value is None:
            return value
        try:
            address = ipaddress.ip_address(value)
        except ValueError:
            # RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
            label = r"[A-Za-z0-9]([A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
            if len(value) > 253 or not re.fullmatch(rf"{label}(\.{label})*", value):
                raise ValueError(
                    f"must be a host name such as gemhub-hub or an IP address, without scheme or port (got {value!r})"
                ) from None
            return value
        if address.is_unspecified:
            raise ValueError("means every address of a host, which a server binds but nothing can connect to")
        return value

    @model_validator(mode="after")
    def _services_reachable(self) -> "HubSection":
        import ipaddress

        if self.services_host is None and ipaddress.ip_address(self.services_bind_ip).is_unspecified:
            raise ValueError(
                f"hub.services_host is required when hub.services_bind_ip is {self.services_bind_ip}: "
                "nothing can connect to that address, so name the host the proxy and user servers use "
                "(in the Helm chart: the hub Service)"
            )
        return self

    @property
    def services_connect_host(self) -> str:
        """Where other processes reach the hub's services (services_host, else the bound address)."""
        return self.services_host or self.services_bind_ip

    @field_validator("db_url")
    @classmethod
    def _db(cls, value: str | None) -> str | None:
        if value is not None and not re.match(r"^(sqlite|postgresql|mysql)(\+\w+)?://", value):
            raise ValueError("must be a sqlite://, postgresql:// or mysql:// URL")
        return value


class DemoAuth(Section):
    users: list[Username] = Field(
        ["demo"],
        description="Users who may log in. Each gets a generated password, "
        "printed once by `gemhub up` and kept in `<data_dir>/demo-passwords.json`.",
    )


class NativeAuth(Section):
    open_signup: bool = Field(
        False, description="Let new sign-ups in without an admin authorising them."
    )
    minimum_password_length: int = Field(10, ge=8, description="Shortest accepted password.")


class OAuthAuth(Section):
    login_service: str = Field("Identity provider", description="Name on the login button.")
    client_id: str = Field(description="OAuth client id registered at the identity provider.")
    client_secret_env: str = Field(
        "GEMHUB_OAUTH_CLIENT_SECRET",
        pattern=ENV_NAME,
        description="Name of the environment variable holding the client secret "
        "(secrets never go into gemhub.yaml).",
    )
    authorize_url: HttpUrl = Field(description="The provider's authorization endpoint.")
    token_url: HttpUrl = Field(description="The provider's token endpoint.")
    userdata_url: HttpUrl = Field(description="The provider's userinfo endpoint.")
    username_claim: str = Field("preferred_username", description="Claim used as the username.")
    scope: list[str] = Field(["openid", "profile", "email"], description="Scopes requested.")
    allowed_groups: list[str] = Field([], description="Only members of these groups may log in.")
    claim_groups_key: str = Field("groups", description="Claim listing the user's groups.")
    credentials_from_auth_state: dict[str, dict[str, str]] = Field(
        {},
        description="Provider credentials taken from the identity provider at login, for providers "
        "that are also the data provider: provider -> field -> dotted path into JupyterHub's auth_state "
        "(e.g. `sentinelhub: {client_id: oauth_user.sh_client_id, client_secret: oauth_user.sh_client_secret}` "
        "for Keycloak user attributes mapped into userinfo claims). Credentials a user or admin stored "
        "for the same provider win.",
    )

    @field_validator("credentials_from_auth_state")
    @classmethod
    def _known_provider_fields(cls, value: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
        from ..credentials.providers import InvalidCredentials, get_provider

        for provider_name, fields in value.items():
            try:
                provider = get_provider(provider_name)
                for field_name in fields:
                    provider.field(field_name)
            except InvalidCredentials as error:
                raise ValueError(str(error)) from None
            missing = [f.name for f in provider.fields if f.required and f.name not in fields]
            if missing:
                raise ValueError(f"{provider_name} needs a path for {', '.join(missing)}")
            for field_name, path in fields.items():
                if not re.match(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$", path):
                    raise ValueError(f"{provider_name}.{field_name}: {path!r} is not a dotted path like oauth_user.claim")
        return value


class AuthSection(Section):
    type: Literal["demo", "native", "oauth"] = Field(
        "demo",
        description="`demo`: listed users with generated passwords (loopback only). "
        "`native`: NativeAuthenticator sign-up with admin approval. "
        "`oauth`: GenericOAuthenticator against an OpenID Connect provider (Keycloak, CDSE).",
    )
    admin_users: list[Username] = Field(["admin"], description="Users with admin rights.")
    demo: DemoAuth = Field(default_factory=DemoAuth, description="Settings for `type: demo`.")
    native: NativeAuth = Field(default_factory=NativeAuth, description="Settings for `type: native`.")
    oauth: OAuthAuth | None = Field(None, description="Settings for `type: oauth` (required there).")


class ProfileKubernetes(Section):
    cpu_guarantee: float | None = Field(None, gt=0, description="CPU cores reserved (default: spawner.kubernetes's).")
    mem_guarantee: Memory | None = Field(None, description="Memory reserved (default: spawner.kubernetes's).")
    image_pull_policy: ImagePullPolicy | None = Field(None, description="Replaces spawner.kubernetes's.")
    node_selector: NodeSelector = Field({}, description="Node labels added to spawner.kubernetes's.")
    tolerations: list[Toleration] | None = Field(None, description="Replace spawner.kubernetes's tolerations.")
    node_affinity: NodeAffinity | None = Field(None, description="Replaces spawner.kubernetes's node affinity.")
    environment: dict[EnvName, str] = Field(
        {}, description="Plain variables added to this profile's servers (to spawner.environment's); no secrets."
    )
    extra_env: dict[EnvName, EnvFrom] = Field({}, description="Added to spawner.kubernetes.extra_env.")

    @field_validator("extra_env")
    @classmethod
    def _plain_or_from_a_source(cls, value: dict, info) -> dict:
        """One variable, one definition: KubeSpawner would keep only one of the two, silently."""
        both = sorted(set(value) & set(info.data.get("environment", {})))
        if both:
            raise ValueError(f"{', '.join(both)} also in environment: give each variable once")
        return value


class Profile(Section):
    slug: Annotated[str, Field(pattern=r"^[a-z0-9-]+$")] = Field(description="Short id of the profile.")
    display_name: str = Field(description="Name shown on the spawn page.")
    description: str = Field("", description="One line shown under the name.")
    image: str | None = Field(None, description="Image for this profile (default: spawner.image).")
    cpu_limit: float | None = Field(None, gt=0, description="CPU cores (default: spawner.cpu_limit).")
    mem_limit: Memory | None = Field(None, description="Memory (default: spawner.mem_limit).")
    default: bool = Field(False, description="Preselected on the spawn page.")
    kubernetes: ProfileKubernetes | None = Field(
        None, description="Kubernetes settings of this profile (z2jh `profileList[].kubespawner_override`)."
    )


class LocalSpawner(Section):
    user_env: str | None = Field(
        None,
        description="Virtualenv the user servers and kernels run from. "
        "Default: `envs/user` in gemhub's state folder (`.gemhub/envs/user` in the checkout, which `make envs` "
        "creates).",
    )
    home_root: str | None = Field(
        None, description="Folder holding one home folder per user. Default: `<data_dir>/homes`."
    )


class DockerSpawnerSection(Section):
    network_name: str = Field(
        "host",
        description="Docker network of user containers. Only `host` for now: containers reach the hub API "
        "and the sandbox on the host's 127.0.0.1, each user server listens on its own loopback port, and "
        "nothing is exposed beyond the proxy.",
    )
    volume_name_template: str = Field(
        "gemhub-home-{username}", description="Named volume mounted as each user's home."
    )
    home_dir: str = Field("/home/jovyan", description="Home folder inside the user image.")

    @field_validator("network_name")
    @classmethod
    def _host_only(cls, value: str) -> str:
        if value != "host":
            raise ValueError(
                "only 'host' is supported: user containers reach the hub and the sandbox on 127.0.0.1"
            )
        return value


class KubernetesSpawner(Section):
    namespace: str = Field("gemhub", description="Namespace of user pods.")
    storage_capacity: Memory | None = Field(
        "10G", description="Size of each user's home volume; null for no persistent home."
    )
    storage_class: str | None = Field(None, description="StorageClass of home volumes.")
    home_dir: str = Field("/home/jovyan", description="Home folder inside the user image.")
    uid: int = Field(
        1000, ge=1, description="User id the user container runs as, never root (z2jh `singleuser.uid`; "
        "gemhub/user's jovyan)."
    )
    fs_gid: int | None = Field(
        1000, ge=1, description="Group that owns mounted volumes, so the home volume is writable (z2jh "
        "`singleuser.fsGid`; 1000 is gemhub/user's jovyan group, where z2jh's 100 fits the docker-stacks images)."
    )
    cpu_guarantee: float | None = Field(
        None, gt=0, description="CPU cores reserved per user pod (z2jh `singleuser.cpu.guarantee`)."
    )
    mem_guarantee: Memory | None = Field(
        None, description="Memory reserved per user pod (z2jh `singleuser.memory.guarantee`)."
    )
    image_pull_policy: ImagePullPolicy | None = Field(
        None, description="When the user image is pulled (z2jh `singleuser.image.pullPolicy`); default: Kubernetes'."
    )
    image_pull_secrets: list[ObjectName] = Field(
        [], description="Secrets (docker-registry type) for pulling user images (z2jh `singleuser.image.pullSecrets`)."
    )
    node_selector: NodeSelector = Field(
        {}, description="Node labels user pods must run on (z2jh `singleuser.nodeSelector`)."
    )
    tolerations: list[Toleration] = Field(
        [], description="Taints user pods tolerate (z2jh `singleuser.extraTolerations`), Kubernetes spelling."
    )
    node_affinity: NodeAffinity = Field(
        default_factory=NodeAffinity, description="Nodes user pods require or prefer (z2jh `singleuser.extraNodeAffinity`)."
    )
    extra_volumes: list[Volume] = Field(
        [], description="More volumes for user pods (z2jh `singleuser.storage.extraVolumes`); no hostPath."
    )
    extra_volume_mounts: list[VolumeMount] = Field(
        [], description="Where they are mounted (z2jh `singleuser.storage.extraVolumeMounts`)."
    )
    extra_env: dict[EnvName, EnvFrom] = Field(
        {},
        description="Variables read from Secrets, ConfigMaps or the pod (z2jh `singleuser.extraEnv` with "
        "`valueFrom`): the pod spec names the Secret and key, never the value.",
        examples=[{"DB_PASSWORD": {"valueFrom": {"secretKeyRef": {"name": "team-db", "key": "password"}}}}],
    )


class SpawnerSection(Section):
    type: Literal["local", "docker", "kubernetes"] = Field(
        "local",
        description="`local`: user servers as processes from the user virtualenv. "
        "`docker`: DockerSpawner on one server. `kubernetes`: KubeSpawner (the Helm chart).",
    )
    image: str | None = Field(None, description="User image (required for docker and kubernetes).")
    default_url: str = Field("/lab", description="Page a user server opens on.")
    cpu_limit: float | None = Field(None, gt=0, description="CPU cores per user (docker, kubernetes).")
    mem_limit: Memory | None = Field(None, description="Memory per user (docker, kubernetes).")
    start_timeout: int = Field(120, ge=10, description="Seconds a server may take to start.")
    # 120, not JupyterHub's 30: 30 JupyterLab servers starting within a minute on 2 cores took up
    # to ~110 s to answer and failed at 60 s (benchmarks/results/load-full.json). A server that
    # crashes is still only reported when this runs out, so it is not raised further.
    http_timeout: int = Field(120, ge=5, description="Seconds a started server may take to answer.")
    environment: dict[Annotated[str, Field(pattern=ENV_NAME)], str] = Field(
        {}, description="Extra environment variables for every user server (no secrets)."
    )
    profiles: list[Profile] = Field(
        [], description="Choices on the spawn page (docker: image only; kubernetes: all fields)."
    )
    local: LocalSpawner = Field(default_factory=LocalSpawner, description="Settings for `type: local`.")
    docker: DockerSpawnerSection = Field(
        default_factory=DockerSpawnerSection, description="Settings for `type: docker`."
    )
    kubernetes: KubernetesSpawner = Field(
        default_factory=KubernetesSpawner, description="Settings for `type: kubernetes`."
    )


class CullingSection(Section):
    enabled: bool = Field(True, description="Stop idle user servers (jupyterhub-idle-culler).")
    timeout: int = Field(3600, ge=10, description="Seconds of inactivity before a server is stopped.")
    every: int = Field(300, ge=5, description="Seconds between culler checks.")
    max_age: int = Field(0, ge=0, description="Stop servers older than this many seconds (0: never).")
    users: bool = Field(False, description="Also delete users who are idle (not just their servers).")


class SandboxSection(Section):
    enabled: bool = Field(
        True, description="Users without their own credentials work against the offline sandbox."
    )
    url: HttpUrl | None = Field(
        None,
        description="URL of a sandbox running elsewhere; default: the hub starts one as a managed service "
        "on `hub.services_bind_ip`:`port`, which user servers reach at `hub.services_host`.",
    )
    port: Port = Field(8010, description="Port of the sandbox the hub starts.")


SENTINEL_HUB = "https://services.sentinel-hub.com"


class SentinelHubSection(Section):
    base_url: HttpUrl = Field(SENTINEL_HUB, description="Sentinel Hub endpoint for users with credentials.")
    token_url: HttpUrl = Field(
        SENTINEL_HUB + TOKEN_PATH,  # the sandbox answers on the same path
        description="OAuth token endpoint matching base_url.",
    )
    sandbox: SandboxSection = Field(default_factory=SandboxSection, description="The offline sandbox.")


class MarketplaceSection(Section):
    enabled: bool = Field(True, description="Run the notebook marketplace as a hub service at /services/marketplace/.")
    port: Port = Field(8020, description="Port of the marketplace service on `hub.services_bind_ip` (the hub proxies it).")
    site_dir: str | None = Field(
        None,
        description="Catalogue the marketplace serves, published by the hub's background curation (`curate`) or "
        "`gemhub marketplace build`. Default: `marketplace` in gemhub's state folder (`.gemhub/marketplace` in the "
        "checkout).",
    )
    notebooks_dir: str | None = Field(
        None,
        description="Folder of curated notebooks, given to user servers as GEMHUB_NOTEBOOKS_DIR (what Launch "
        "copies from). Default: `notebooks/` in the gemhub checkout; none for an installed gemhub.",
    )
    curate: bool | None = Field(
        None,
        description="Test the curated notebooks in the background while the hub runs and publish each one the "
        "moment it passes (a hub-managed service; cached, so a restart re-runs only what changed). Default: on "
        "for the local spawner when there is a notebooks folder; off otherwise (the hub image ships its catalogue).",
    )
    curate_jobs: int = Field(2, ge=1, le=16, description="Notebooks the background curation runs at once.")


class GemhubConfig(Section):
    """Root of gemhub.yaml."""

    hub: HubSection = Field(default_factory=HubSection, description="The hub process and its proxy.")
    auth: AuthSection = Field(default_factory=AuthSection, description="Who may log in, and how.")
    spawner: SpawnerSection = Field(default_factory=SpawnerSection, description="Where user servers run.")
    culling: CullingSection = Field(default_factory=CullingSection, description="Stopping idle servers.")
    sentinelhub: SentinelHubSection = Field(
        default_factory=SentinelHubSection, description="Sentinel Hub endpoints given to user servers."
    )
    marketplace: MarketplaceSection = Field(
        default_factory=MarketplaceSection, description="The curated notebook catalogue."
    )
