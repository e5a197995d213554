"""The Helm chart's own values (everything in values.yaml but `gemhub:`), typed.

The chart's values.schema.json, values.yaml and the values table of
helm/gemhub/README.md are generated from these models (gemhub/config/schema.py,
gemhub/config/chart_files.py), so a key, its default, its type and its
description are written once, here. Keys keep z2jh's camelCase names and
meanings; objects are closed, so a typo fails `helm install` naming the key.
Where a value ends up in gemhub.yaml, its type is taken from the gemhub.yaml
model's field (`_like`), so the chart cannot accept what the hub would refuse.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, JsonValue, WithJsonSchema, model_serializer

from .kubernetes import (
    DNS_LABEL,
    DNS_SUBDOMAIN,
    LABEL_KEY,
    EnvFrom,
    ImagePullPolicy,
    NodeAffinity,
    NodeSelector,
    NodeSelectorTerm,
    ObjectName,
    PreferredSchedulingTerm,
    Toleration,
    Volume,
    VolumeMount,
)
from .model import CullingSection, EnvName, GemhubConfig, KubernetesSpawner, Port, Profile, ProfileKubernetes, SpawnerSection


def _like(model: type[BaseModel], name: str) -> Any:
    """The type of a gemhub.yaml model field, constraints included, for the chart key rendered into it."""
    field = model.model_fields[name]
    return Annotated[(field.annotation, *field.metadata)] if field.metadata else field.annotation


def _or_empty(pattern: str) -> str:
    """A `^...$` pattern that also accepts "" (the chart's habit for "not set": Helm cannot unset a default)."""
    return f"^$|{pattern}"


# An OCI tag (the distribution spec's grammar). A number is accepted too and taken as its digits:
# `--set image.tag=20261127` gives Helm an integer, and the templates stringify tags.
OCI_TAG = r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$"
# An image reference without tag or digest: an optional registry host (and port), then path components.
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
IMAGE_NAME = (
    r"^(?:[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?(?:\.[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?)*(?::[0-9]+)?/)?"
    rf"{_COMPONENT}(?:/{_COMPONENT})*$"
)
# Kubernetes quantities: CPU in cores or millicores, memory in bytes with a decimal or binary suffix.
CPU_QUANTITY = r"^[0-9]+(\.[0-9]+)?m?$"
MEMORY_QUANTITY = r"^[0-9]+(\.[0-9]+)?([kMGTPE]|[KMGTPE]i)?$"
HOSTNAME = r"^(\*\.)?[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
CIDR = r"^[0-9a-fA-F:.]+/[0-9]{1,3}$"

Tag = Annotated[str, Field(pattern=OCI_TAG)] | Annotated[int, Field(ge=0)]
ChartTag = Annotated[str, Field(pattern=_or_empty(OCI_TAG))] | Annotated[int, Field(ge=0)]
ImageName = Annotated[str, Field(pattern=IMAGE_NAME, max_length=255)]
CpuQuantity = Annotated[str, Field(pattern=CPU_QUANTITY)] | Annotated[float, Field(ge=0)]
MemoryQuantity = Annotated[str, Field(pattern=MEMORY_QUANTITY)] | Annotated[int, Field(ge=0)]
IntOrPercent = Annotated[int, Field(ge=0)] | Annotated[str, Field(pattern=r"^[0-9]+%$")]
OptionalName = Annotated[str, Field(pattern=_or_empty(DNS_SUBDOMAIN), max_length=253)]
ResourceName = Annotated[str, Field(pattern=_or_empty(DNS_LABEL), max_length=63)]
Annotations = dict[Annotated[str, Field(pattern=LABEL_KEY)], str]
Hostname = Annotated[str, Field(pattern=HOSTNAME, max_length=253)]
ServiceType = Literal["ClusterIP", "NodePort", "LoadBalancer"]
# Plain environment values: a string, or a number or boolean the templates turn into its text.
EnvValue = str | int | float | bool
Env = dict[EnvName, EnvValue | EnvFrom]


class Values(BaseModel):
    """A section of the chart's values: unknown keys are errors, and values are taken as typed (strict:
    "yes" is not a boolean), as Helm's JSON schema check takes them."""

    model_config = ConfigDict(extra="forbid", strict=True)


class KubeBlob(BaseModel):
    """A Kubernetes API object the templates pass through whole (resources, security contexts):
    closed to the fields the chart's pods use, and dumped without the fields left unset, so the
    default is exactly what the pod spec gets."""

    model_config = ConfigDict(extra="forbid", strict=True)

    @model_serializer(mode="wrap")
    def _without_unset(self, handler):
        return {key: value for key, value in handler(self).items() if value is not None}


# --- Kubernetes objects the chart passes through ---------------------------------------------


class ResourceList(KubeBlob):
    cpu: CpuQuantity | None = Field(None, description="CPU cores, e.g. 0.5 or 500m.")
    memory: MemoryQuantity | None = Field(None, description="Bytes, e.g. 512Mi or 1Gi.")


class ResourceRequirements(KubeBlob):
    requests: ResourceList | None = Field(None, description="What the scheduler reserves for the container.")
    limits: ResourceList | None = Field(None, description="What the container may use at most.")


class SeccompProfile(KubeBlob):
    type: Literal["RuntimeDefault", "Localhost", "Unconfined"] = Field(description="Which seccomp profile.")
    localhostProfile: str | None = Field(None, description="The profile's file on the node (type Localhost).")


class Capabilities(KubeBlob):
    add: list[Annotated[str, Field(pattern=r"^[A-Z_]+$")]] | None = Field(None, description="Capabilities added.")
    drop: list[Annotated[str, Field(pattern=r"^[A-Z_]+$")]] | None = Field(None, description="Capabilities dropped.")


UserId = Annotated[int, Field(ge=0)]


class PodSecurityContext(KubeBlob):
    runAsNonRoot: bool | None = Field(None, description="Refuse to start a container that would run as root.")
    runAsUser: UserId | None = Field(None, description="User id of the pod's processes.")
    runAsGroup: UserId | None = Field(None, description="Primary group id of the pod's processes.")
    fsGroup: UserId | None = Field(None, description="Group that owns the pod's volumes.")
    fsGroupChangePolicy: Literal["OnRootMismatch", "Always"] | None = Field(
        None, description="When volume ownership is changed to fsGroup."
    )
    supplementalGroups: list[UserId] | None = Field(None, description="More group ids of the pod's processes.")
    seccompProfile: SeccompProfile | None = Field(None, description="The pod's seccomp profile.")


class SecurityContext(KubeBlob):
    runAsNonRoot: bool | None = Field(None, description="Refuse to start the container as root.")
    runAsUser: UserId | None = Field(None, description="User id of the container's processes.")
    runAsGroup: UserId | None = Field(None, description="Primary group id of the container's processes.")
    privileged: bool | None = Field(None, description="Run privileged (never needed by gemhub).")
    allowPrivilegeEscalation: bool | None = Field(None, description="Let a process gain more privileges than its parent.")
    readOnlyRootFilesystem: bool | None = Field(None, description="Mount the image's filesystem read-only.")
    capabilities: Capabilities | None = Field(None, description="Linux capabilities added or dropped.")
    seccompProfile: SeccompProfile | None = Field(None, description="The container's seccomp profile.")


class LabelSelectorRequirement(KubeBlob):
    key: Annotated[str, Field(pattern=LABEL_KEY)] = Field(description="Label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist"] = Field(description="How the label is compared.")
    values: list[str] | None = Field(None, description="Values for In and NotIn.")


class LabelSelector(KubeBlob):
    matchLabels: NodeSelector | None = Field(None, description="Labels the objects must carry.")
    matchExpressions: list[LabelSelectorRequirement] | None = Field(None, description="Requirements, all must hold.")


class IPBlock(KubeBlob):
    cidr: Annotated[str, Field(pattern=CIDR)] = Field(description="An address range, e.g. 10.0.0.0/8.")
    except_: list[Annotated[str, Field(pattern=CIDR)]] | None = Field(
        None, alias="except", description="Ranges inside cidr left out."
    )

    model_config = ConfigDict(extra="forbid", strict=True, populate_by_name=True, serialize_by_alias=True)


class NetworkPolicyPeer(KubeBlob):
    ipBlock: IPBlock | None = Field(None, description="An address range.")
    podSelector: LabelSelector | None = Field(None, description="Pods, in this namespace or namespaceSelector's.")
    namespaceSelector: LabelSelector | None = Field(None, description="Namespaces.")


class NetworkPolicyPort(KubeBlob):
    protocol: Literal["TCP", "UDP", "SCTP"] | None = Field(None, description="TCP (default), UDP or SCTP.")
    port: Port | Annotated[str, Field(pattern=DNS_LABEL, max_length=15)] | None = Field(
        None, description="A port number or name."
    )
    endPort: Port | None = Field(None, description="The last port of a range starting at port.")


class NetworkPolicyEgressRule(KubeBlob):
    to: list[NetworkPolicyPeer] | None = Field(None, description="Destinations (none: everywhere).")
    ports: list[NetworkPolicyPort] | None = Field(None, description="Destination ports (none: all).")


class IngressTLS(KubeBlob):
    hosts: list[Hostname] | None = Field(None, description="Host names the certificate covers.")
    secretName: ObjectName | None = Field(None, description="The Secret holding the certificate and its key.")


# --- The chart's sections, in values.yaml's order --------------------------------------------


class Rbac(Values):
    create: bool = Field(
        True, description="Create the hub's Role and RoleBinding (pods, PVCs, Secrets, events in the release namespace)."
    )


class HubImage(Values):
    name: ImageName = Field("gemhub/hub", description="The hub image (`gemhub images build hub`).")
    tag: ChartTag = Field("", description="Its tag; empty means the chart's appVersion.")
    pullPolicy: ImagePullPolicy = Field("IfNotPresent", description="IfNotPresent, Always or Never.")


class HubDbPvc(Values):
    storage: MemoryQuantity = Field(
        "1Gi", description="Size of the hub's data volume (database, sandbox client, generated secrets of services)."
    )
    storageClassName: OptionalName = Field("", description="StorageClass of that volume; empty for the cluster's default.")
    accessModes: list[Literal["ReadWriteOnce", "ReadWriteOncePod", "ReadOnlyMany", "ReadWriteMany"]] = Field(
        ["ReadWriteOnce"], min_length=1, description="Access modes of that volume."
    )
    annotations: Annotations = Field({}, description="Annotations of that volume's claim.")


class HubDb(Values):
    type: Literal["sqlite-pvc", "postgres"] = Field(
        "sqlite-pvc",
        description="`sqlite-pvc`: SQLite on a PersistentVolumeClaim (one hub replica). "
        "`postgres`: the external database at `hub.db.url`.",
    )
    url: Annotated[str, Field(pattern=r"^$|^postgresql(\+[A-Za-z0-9_]+)?://")] = Field(
        "", description="SQLAlchemy URL of the external database (type postgres), without a password."
    )
    password: str = Field(
        "", description="Password of that database, kept in the hub Secret and given to the hub as PGPASSWORD."
    )
    pvc: HubDbPvc = Field(default_factory=HubDbPvc, description="The hub's data volume (type sqlite-pvc).")


class ServiceAccount(Values):
    create: bool = Field(True, description="Create a ServiceAccount for the hub (KubeSpawner acts as it).")
    name: OptionalName = Field("", description="Its name; empty means `<fullname>-hub`.")
    annotations: Annotations = Field({}, description="Its annotations (e.g. a cloud IAM role).")


class HubService(Values):
    type: ServiceType = Field(
        "ClusterIP",
        description="Type of the hub's API Service (the proxy and user servers reach the hub through it).",
    )
    annotations: Annotations = Field({}, description="Annotations of that Service.")


class Probe(Values):
    """A container probe of the chart's own pods (the check itself, its path and port, is the chart's)."""

    enabled: bool = Field(True, description="Probe the container.")
    initialDelaySeconds: int = Field(0, ge=0, description="Seconds before the first check.")
    periodSeconds: int = Field(10, ge=1, description="Seconds between checks.")
    timeoutSeconds: int = Field(1, ge=1, description="Seconds a check may take.")
    failureThreshold: int = Field(3, ge=1, description="Failed checks in a row before the probe fails.")


class HubLivenessProbe(Probe):
    enabled: bool = Field(True, description="Restart the hub when /hub/health stops answering.")
    initialDelaySeconds: int = Field(
        60, ge=0, description="Seconds before the first check (database upgrades can take a while)."
    )
    timeoutSeconds: int = Field(3, ge=1, description="Seconds a check may take.")
    failureThreshold: int = Field(30, ge=1, description="Failed checks in a row before a restart.")


class HubReadinessProbe(Probe):
    enabled: bool = Field(True, description="Send traffic to the hub only once /hub/health answers.")
    periodSeconds: int = Field(2, ge=1, description="Seconds between checks.")
    failureThreshold: int = Field(3, ge=1, description="Failed checks in a row before the hub is marked not ready.")


class ProxyLivenessProbe(Probe):
    enabled: bool = Field(True, description="Restart the proxy when it stops answering.")
    initialDelaySeconds: int = Field(30, ge=0, description="Seconds before the first check.")
    timeoutSeconds: int = Field(3, ge=1, description="Seconds a check may take.")
    failureThreshold: int = Field(30, ge=1, description="Failed checks in a row before a restart.")


class ProxyReadinessProbe(Probe):
    enabled: bool = Field(True, description="Send traffic to the proxy only once it answers.")
    periodSeconds: int = Field(2, ge=1, description="Seconds between checks.")
    failureThreshold: int = Field(
        3, ge=1, description="Failed checks in a row before the proxy is marked not ready."
    )


class Pdb(Values):
    enabled: bool = Field(
        False,
        description="A PodDisruptionBudget for this component (it runs one replica: a node drain then waits "
        "for the operator).",
    )
    maxUnavailable: IntOrPercent | None = Field(
        None, description="Pods that may be down at once, a number or a percentage (null: use minAvailable)."
    )
    minAvailable: IntOrPercent = Field(1, description="Pods that must stay up, a number or a percentage.")


class HubNetworkPolicy(Values):
    enabled: bool = Field(
        True,
        description="Let only the proxy and user pods reach the hub's ports (its egress stays open: Kubernetes "
        "API, identity provider, database).",
    )


HUB_CONTAINER_SECURITY = SecurityContext(
    allowPrivilegeEscalation=False, readOnlyRootFilesystem=True, capabilities=Capabilities(drop=["ALL"])
)


class Hub(Values):
    image: HubImage = Field(default_factory=HubImage, description="The hub's image.")
    baseUrl: Annotated[str, Field(pattern=r"^/(.*/)?$")] = Field(
        "/", description="URL prefix of the hub, starting and ending with '/' (gemhub.yaml hub.base_url)."
    )
    cookieSecret: Annotated[str, Field(pattern=r"^([0-9a-fA-F]{64})?$")] = Field(
        "",
        description="Hex-encoded cookie secret (32 bytes, 64 hex digits). Empty: generated at install and "
        "kept across upgrades.",
    )
    db: HubDb = Field(default_factory=HubDb, description="The hub's database.")
    extraConfig: dict[Annotated[str, Field(pattern=r"^[-._a-zA-Z0-9]+$")], str] = Field(
        {},
        description="Python snippets the hub runs after gemhub's own settings, in sorted name order, with `c` "
        "the hub's config: `{name: code}` (z2jh's hub.extraConfig); names hold letters, digits, '-', '_' "
        "and '.'. Kept in a Secret; for single traits prefer the typed gemhub.hub.extra_config.",
    )
    extraEnv: Env = Field(
        {},
        description="Extra environment variables of the hub: `NAME: value`, or "
        "`NAME: {valueFrom: {secretKeyRef: {name, key}}}` for secrets such as the OAuth client secret "
        "(gemhub.auth.oauth.client_secret_env names the variable).",
    )
    serviceAccount: ServiceAccount = Field(default_factory=ServiceAccount, description="The hub's ServiceAccount.")
    service: HubService = Field(default_factory=HubService, description="The hub's Service.")
    resources: ResourceRequirements = Field(
        ResourceRequirements(
            requests=ResourceList(cpu="200m", memory="512Mi"), limits=ResourceList(memory="1Gi")
        ),
        description="The hub container's resources.",
    )
    podSecurityContext: PodSecurityContext = Field(
        PodSecurityContext(
            runAsNonRoot=True, runAsUser=1000, runAsGroup=1000, fsGroup=1000,
            seccompProfile=SeccompProfile(type="RuntimeDefault"),
        ),
        description="The hub pod's security context.",
    )
    containerSecurityContext: SecurityContext = Field(
        HUB_CONTAINER_SECURITY, description="The hub container's security context."
    )
    livenessProbe: HubLivenessProbe = Field(default_factory=HubLivenessProbe, description="The hub's liveness probe.")
    readinessProbe: HubReadinessProbe = Field(
        default_factory=HubReadinessProbe, description="The hub's readiness probe."
    )
    pdb: Pdb = Field(default_factory=Pdb, description="The hub's PodDisruptionBudget.")
    networkPolicy: HubNetworkPolicy = Field(default_factory=HubNetworkPolicy, description="The hub's NetworkPolicy.")
    nodeSelector: NodeSelector = Field({}, description="Node labels the hub pod must match.")
    tolerations: list[Toleration] = Field([], description="Tolerations of the hub pod.")


class NodePorts(Values):
    http: Port | None = Field(None, description="NodePort for HTTP when type is NodePort; null lets Kubernetes choose.")


class ProxyService(Values):
    type: ServiceType = Field(
        "LoadBalancer",
        description="Type of the public Service `<fullname>-proxy-public` (LoadBalancer, NodePort or "
        "ClusterIP behind an Ingress).",
    )
    annotations: Annotations = Field({}, description="Annotations of that Service.")
    nodePorts: NodePorts = Field(default_factory=NodePorts, description="Fixed node ports (type NodePort).")
    loadBalancerSourceRanges: list[Annotated[str, Field(pattern=CIDR)]] = Field(
        [], description="Client address ranges a LoadBalancer accepts (empty: all)."
    )


class ProxyImage(Values):
    name: ImageName = Field(
        "gemhub/proxy", description="The proxy image (`gemhub images build proxy`, configurable-http-proxy)."
    )
    tag: ChartTag = Field("", description="Its tag; empty means the chart's appVersion.")
    pullPolicy: ImagePullPolicy = Field("IfNotPresent", description="IfNotPresent, Always or Never.")


class ProxyNetworkPolicy(Values):
    enabled: bool = Field(
        True,
        description="Public port open to all, API port to the hub only; out only to the hub, user pods and DNS.",
    )


class Chp(Values):
    image: ProxyImage = Field(default_factory=ProxyImage, description="The proxy's image.")
    extraCommandLineFlags: list[Annotated[str, Field(pattern=r"^--?[A-Za-z]")]] = Field(
        [], description="Extra command-line flags of configurable-http-proxy."
    )
    resources: ResourceRequirements = Field(
        ResourceRequirements(
            requests=ResourceList(cpu="100m", memory="128Mi"), limits=ResourceList(memory="512Mi")
        ),
        description="The proxy container's resources.",
    )
    podSecurityContext: PodSecurityContext = Field(
        PodSecurityContext(
            runAsNonRoot=True, runAsUser=65534, runAsGroup=65534, seccompProfile=SeccompProfile(type="RuntimeDefault")
        ),
        description="The proxy pod's security context (the image runs as nobody, 65534).",
    )
    containerSecurityContext: SecurityContext = Field(
        HUB_CONTAINER_SECURITY, description="The proxy container's security context."
    )
    livenessProbe: ProxyLivenessProbe = Field(
        default_factory=ProxyLivenessProbe, description="The proxy's liveness probe."
    )
    readinessProbe: ProxyReadinessProbe = Field(
        default_factory=ProxyReadinessProbe, description="The proxy's readiness probe."
    )
    pdb: Pdb = Field(default_factory=Pdb, description="The proxy's PodDisruptionBudget.")
    networkPolicy: ProxyNetworkPolicy = Field(
        default_factory=ProxyNetworkPolicy, description="The proxy's NetworkPolicy."
    )
    nodeSelector: NodeSelector = Field({}, description="Node labels the proxy pod must match.")
    tolerations: list[Toleration] = Field([], description="Tolerations of the proxy pod.")


class Proxy(Values):
    secretToken: str = Field(
        "",
        description="The token the hub uses on the proxy's REST API. Empty: generated at install and kept "
        "across upgrades.",
    )
    service: ProxyService = Field(default_factory=ProxyService, description="The public Service.")
    chp: Chp = Field(default_factory=Chp, description="The proxy pod (configurable-http-proxy).")


class SingleuserImage(Values):
    name: ImageName = Field(
        "gemhub/user", description="The user image (gemhub.yaml spawner.image is rendered from name and tag)."
    )
    tag: ChartTag = Field("", description="Its tag; empty means the chart's appVersion.")
    pullPolicy: _like(KubernetesSpawner, "image_pull_policy") = Field(
        None, description="IfNotPresent, Always or Never; null for Kubernetes' default."
    )
    pullSecrets: list[ObjectName] = Field(
        [], description="Names of image pull Secrets for user pods (added to the top-level imagePullSecrets)."
    )


class SingleuserCpu(Values):
    limit: _like(SpawnerSection, "cpu_limit") = Field(
        None, description="CPU cores per user server (gemhub.yaml spawner.cpu_limit); null for no limit."
    )
    guarantee: _like(KubernetesSpawner, "cpu_guarantee") = Field(
        None, description="CPU cores reserved per user server; null for none."
    )


class SingleuserMemory(Values):
    limit: _like(SpawnerSection, "mem_limit") = Field(
        None,
        description="Memory per user server, e.g. 2G (gemhub.yaml spawner.mem_limit; K, M, G or T, or a "
        "quoted number of bytes); null for no limit.",
    )
    guarantee: _like(KubernetesSpawner, "mem_guarantee") = Field(
        None, description="Memory reserved per user server, e.g. 1G; null for none."
    )


class KubespawnerOverride(Values):
    """z2jh's kubespawner_override, limited to the traits gemhub.yaml's profiles carry."""

    image: _like(Profile, "image") = Field(None, description="The image, `name:tag` (default: singleuser.image).")
    cpu_limit: _like(Profile, "cpu_limit") = Field(None, description="CPU cores (default: singleuser.cpu.limit).")
    mem_limit: _like(Profile, "mem_limit") = Field(None, description="Memory, e.g. 16G (default: singleuser.memory.limit).")
    cpu_guarantee: _like(ProfileKubernetes, "cpu_guarantee") = Field(
        None, description="CPU cores reserved (default: singleuser.cpu.guarantee)."
    )
    mem_guarantee: _like(ProfileKubernetes, "mem_guarantee") = Field(
        None, description="Memory reserved (default: singleuser.memory.guarantee)."
    )
    image_pull_policy: _like(ProfileKubernetes, "image_pull_policy") = Field(
        None, description="IfNotPresent, Always or Never (default: singleuser.image.pullPolicy)."
    )
    node_selector: NodeSelector = Field({}, description="Node labels added to singleuser.nodeSelector.")
    tolerations: list[Toleration] | None = Field(None, description="Replace singleuser.extraTolerations.")
    node_affinity_required: list[NodeSelectorTerm] | None = Field(
        None, description="Replace singleuser.extraNodeAffinity.required."
    )
    node_affinity_preferred: list[PreferredSchedulingTerm] | None = Field(
        None, description="Replace singleuser.extraNodeAffinity.preferred."
    )
    environment: Env = Field(
        {},
        description="Added to singleuser.extraEnv, in its form: `NAME: value` (no secrets) or "
        "`NAME: {valueFrom: {secretKeyRef: {name, key}}}`.",
    )


class ProfileListEntry(Values):
    display_name: Annotated[str, Field(min_length=1)] = Field(description="Name shown on the spawn page.")
    slug: _like(Profile, "slug") = Field(description="Short id of the profile (a-z, 0-9, '-').")
    description: str = Field("", description="One line shown under the name.")
    default: bool = Field(False, description="Preselected on the spawn page (one profile at most).")
    kubespawner_override: KubespawnerOverride = Field(
        default_factory=KubespawnerOverride, description="What this profile changes; the rest is singleuser.*'s."
    )


# At most one profile is preselected; a JSON schema can say it (pydantic cannot, so the model checks it below).
_ONE_DEFAULT = {"contains": {"required": ["default"], "properties": {"default": {"const": True}}},
                "minContains": 0, "maxContains": 1}


def _one_default(profiles: list[ProfileListEntry]) -> list[ProfileListEntry]:
    if sum(p.default for p in profiles) > 1:
        raise ValueError("at most one profile may be the default")
    return profiles


class SingleuserStorageDynamic(Values):
    storageClass: OptionalName = Field("", description="StorageClass of home volumes; empty for the cluster's default.")


class SingleuserStorage(Values):
    capacity: _like(KubernetesSpawner, "storage_capacity") = Field(
        "10G", description="Size of each user's home volume, e.g. 10G; null for no persistent home."
    )
    homeMountPath: Annotated[str, Field(pattern=r"^/")] = Field(
        "/home/jovyan", description="Where the home volume is mounted in the user container."
    )
    dynamic: SingleuserStorageDynamic = Field(
        default_factory=SingleuserStorageDynamic, description="How home volumes are provisioned."
    )
    extraVolumes: list[Volume] = Field([], description="More volumes for user pods, as in the pod API (no hostPath).")
    extraVolumeMounts: list[VolumeMount] = Field([], description="Where they are mounted, as in the container API.")


class EgressAllowRules(Values):
    dnsPortsPrivateIPs: bool = Field(
        True, description="DNS (port 53) to private addresses, where the cluster's DNS service is."
    )
    nonPrivateIPs: bool = Field(
        True, description="Everything outside the private ranges (the public internet), except the cloud metadata server."
    )
    privateIPs: bool = Field(
        False,
        description="The private ranges 10/8, 172.16/12, 192.168/16 (other users' pods, cluster services, nodes).",
    )
    cloudMetadataServer: bool = Field(
        False, description="The cloud metadata server 169.254.169.254 (node credentials on most clouds)."
    )


class SingleuserNetworkPolicy(Values):
    enabled: bool = Field(
        True,
        description="Restrict user pods: in only from the hub and the proxy; out as egressAllowRules and egress say.",
    )
    egressAllowRules: EgressAllowRules = Field(
        default_factory=EgressAllowRules, description="Where user pods may connect to."
    )
    egress: list[NetworkPolicyEgressRule] = Field(
        [], description="More egress rules for user pods, as in the NetworkPolicy API (e.g. to an in-cluster database)."
    )


class Singleuser(Values):
    image: SingleuserImage = Field(default_factory=SingleuserImage, description="The user image.")
    uid: _like(KubernetesSpawner, "uid") = Field(
        1000, description="User id the user container runs as, never root (1000 is gemhub/user's jovyan)."
    )
    fsGid: _like(KubernetesSpawner, "fs_gid") = Field(
        1000, description="Group that owns mounted volumes (fsGroup), so the home volume is writable; null for none."
    )
    cpu: SingleuserCpu = Field(default_factory=SingleuserCpu, description="CPU of each user server.")
    memory: SingleuserMemory = Field(default_factory=SingleuserMemory, description="Memory of each user server.")
    nodeSelector: NodeSelector = Field({}, description="Node labels user pods must run on.")
    extraTolerations: list[Toleration] = Field([], description="Taints user pods tolerate, as in the pod API.")
    extraNodeAffinity: NodeAffinity = Field(
        default_factory=NodeAffinity, description="Nodes user pods require or prefer, as in the pod API."
    )
    extraEnv: Env = Field(
        {},
        description="Environment of user servers: `NAME: value` (no secrets), or "
        "`NAME: {valueFrom: {secretKeyRef: {name, key}}}`.",
    )
    profileList: Annotated[list[ProfileListEntry], AfterValidator(_one_default)] = Field(
        [],
        description="Choices on the spawn page (z2jh's singleuser.profileList, rendered into gemhub.yaml "
        "spawner.profiles): a list of `{display_name, slug, description, default, kubespawner_override}`. "
        "kubespawner_override may set image, cpu_limit, mem_limit, cpu_guarantee, mem_guarantee, "
        "image_pull_policy, node_selector (added to singleuser.nodeSelector), tolerations and "
        "node_affinity_required/preferred (replacing singleuser's), and environment (as singleuser.extraEnv, "
        "added to it). Unset keys keep the singleuser.* defaults.",
        json_schema_extra=_ONE_DEFAULT,
    )
    storage: SingleuserStorage = Field(default_factory=SingleuserStorage, description="User home volumes.")
    networkPolicy: SingleuserNetworkPolicy = Field(
        default_factory=SingleuserNetworkPolicy, description="The user pods' NetworkPolicy."
    )


class PrePullerContinuous(Values):
    enabled: bool = Field(True, description="Run the continuous image puller DaemonSet.")


class ExtraImage(Values):
    name: ImageName = Field(description="The image, without tag.")
    tag: Tag = Field(description="Its tag.")


class PauseImage(Values):
    name: ImageName = Field(
        "registry.k8s.io/pause",
        description="The container that keeps the puller pod running once the images are pulled.",
    )
    tag: Tag = Field("3.10", description="Its tag.")
    pullPolicy: ImagePullPolicy = Field("IfNotPresent", description="IfNotPresent, Always or Never.")


class Pause(Values):
    image: PauseImage = Field(default_factory=PauseImage, description="The pause container's image.")


class PrePuller(Values):
    continuous: PrePullerContinuous = Field(
        default_factory=PrePullerContinuous, description="The DaemonSet that pulls on every node, new ones too."
    )
    pullProfileListImages: bool = Field(
        True, description="Also pull the image of every singleuser.profileList entry (kubespawner_override.image)."
    )
    extraImages: dict[Annotated[str, Field(pattern=DNS_LABEL, max_length=46)], ExtraImage] = Field(
        {},
        description="More images to pull: `{key: {name, tag}}`. Each is started once with "
        "`/bin/sh -c \"echo Pulling complete\"` (as z2jh does), so it must have /bin/sh; keys name the init "
        "containers (`image-pull-<key>`), so they are DNS labels of at most 46 characters.",
    )
    pause: Pause = Field(default_factory=Pause, description="The pause container.")
    resources: ResourceRequirements = Field(
        ResourceRequirements(requests=ResourceList(cpu="10m", memory="16Mi"), limits=ResourceList(memory="64Mi")),
        description="Resources of each puller container (they only run `echo`; pulling is the kubelet's work).",
    )
    containerSecurityContext: SecurityContext = Field(
        SecurityContext(
            runAsNonRoot=True, runAsUser=65534, allowPrivilegeEscalation=False, readOnlyRootFilesystem=True,
            capabilities=Capabilities(drop=["ALL"]),
        ),
        description="Security context of each puller container; the pod runs as this user with seccomp "
        "RuntimeDefault.",
    )


class Ingress(Values):
    enabled: bool = Field(
        False, description="Put an Ingress in front of proxy-public (set proxy.service.type to ClusterIP then)."
    )
    ingressClassName: OptionalName = Field(
        "", description="IngressClass of the controller that serves it; empty for the cluster's default."
    )
    annotations: Annotations = Field(
        {}, description="Annotations of the Ingress (e.g. cert-manager.io/cluster-issuer for certificates)."
    )
    hosts: list[Hostname] = Field([], description="Host names it answers; empty answers every host.")
    pathSuffix: str = Field(
        "", description="Appended to hub.baseUrl to form the path (e.g. `*` for controllers that need a glob)."
    )
    pathType: Literal["Prefix", "Exact", "ImplementationSpecific"] = Field(
        "Prefix", description="Prefix, Exact or ImplementationSpecific."
    )
    tls: list[IngressTLS] = Field(
        [], description="TLS sections as in the Ingress API: `[{hosts: [...], secretName: ...}]`."
    )


class Cull(Values):
    enabled: _like(CullingSection, "enabled") = Field(
        True, description="Stop idle user servers (jupyterhub-idle-culler; gemhub.yaml culling.enabled)."
    )
    users: _like(CullingSection, "users") = Field(
        False, description="Also delete idle users, not just their servers (culling.users)."
    )
    timeout: _like(CullingSection, "timeout") = Field(
        3600, description="Seconds of inactivity before a server is stopped (culling.timeout)."
    )
    every: _like(CullingSection, "every") = Field(600, description="Seconds between culler checks (culling.every).")
    maxAge: _like(CullingSection, "max_age") = Field(
        0, description="Stop servers older than this many seconds; 0 never (culling.max_age)."
    )


def _valid_gemhub(value: dict) -> dict:
    """`gemhub:` is gemhub.yaml: the model judges it (the chart schema embeds the model's schema)."""
    GemhubConfig.model_validate(value)
    return value


GEMHUB_DEFAULT = {"auth": {"type": "native", "admin_users": ["admin"]}}


class ChartValues(Values):
    """The values of the gemhub chart."""

    nameOverride: ResourceName = Field("", description="Replaces the chart name in resource names.")
    fullnameOverride: ResourceName = Field("", description="Replaces `<release>-<chart>` as the prefix of resource names.")
    imagePullSecrets: list[ObjectName] = Field(
        [], description="Names of existing image pull Secrets, for every pod of the chart (z2jh: imagePullSecrets)."
    )
    rbac: Rbac = Field(default_factory=Rbac, description="The hub's permissions in the release namespace.")
    hub: Hub = Field(default_factory=Hub, description="The hub: JupyterHub with KubeSpawner and gemhub's services.")
    proxy: Proxy = Field(default_factory=Proxy, description="The proxy users connect to (configurable-http-proxy).")
    singleuser: Singleuser = Field(
        default_factory=Singleuser, description="The user servers KubeSpawner starts (gemhub.yaml spawner.*)."
    )
    prePuller: PrePuller = Field(
        default_factory=PrePuller,
        description="Pulls the user images onto every node user pods may run on before a user waits for them "
        "(z2jh's prePuller). Only z2jh's continuous puller is built: a DaemonSet "
        "`<fullname>-continuous-image-puller`, which also covers nodes added later. z2jh's hook puller (a "
        "pre-install/pre-upgrade DaemonSet watched by an awaiter image) is not: the chart ships no awaiter "
        "image, and with the continuous puller an upgrade only makes the first users on a node wait for a "
        "new image.",
    )
    ingress: Ingress = Field(default_factory=Ingress, description="An optional Ingress in front of the proxy.")
    cull: Cull = Field(default_factory=Cull, description="Stopping idle servers (gemhub.yaml culling.*).")
    gemhub: Annotated[dict[str, JsonValue], AfterValidator(_valid_gemhub), WithJsonSchema({"type": "object"})] = Field(
        GEMHUB_DEFAULT,
        description="The content of gemhub.yaml (validated by values.schema.json, generated from gemhub's config "
        "model). The chart sets some keys itself, from the chart keys or the release (hub addresses, data "
        "folder, database URL, spawner type, image, limits, profiles, namespace, home volume, culling): "
        "`gemhub.ownedKeys` in templates/_helpers.tpl lists them with the chart key to use instead, and "
        "helm/gemhub/README.md repeats that table. Everything else (auth, sentinelhub, marketplace, "
        "hub.extra_config, ...) goes here.",
    )
