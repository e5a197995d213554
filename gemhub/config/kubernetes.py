"""The Kubernetes API objects gemhub.yaml may carry, typed.

Operators copy tolerations, affinities and volumes from the Kubernetes docs and
from z2jh values, so these keep the Kubernetes spelling (camelCase, as in a pod
spec) while gemhub's own keys stay snake_case. Each is a strict subset of the
API object: unknown keys are errors here, at `gemhub config validate` and at
`helm install`, instead of at pod creation. What KubeSpawner does with them is
in gemhub/hub/spawners.py.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue, model_validator

# RFC 1123 label, as Kubernetes names volumes, Secrets and ConfigMaps.
DNS_LABEL = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"
DNS_SUBDOMAIN = r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"
# Label keys: an optional DNS-subdomain prefix and a name (kubernetes.io/arch, gpu).
LABEL_KEY = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$"
LABEL_VALUE = r"^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"

VolumeName = Annotated[str, Field(pattern=DNS_LABEL, max_length=63)]
ObjectName = Annotated[str, Field(pattern=DNS_SUBDOMAIN, max_length=253)]
LabelKey = Annotated[str, Field(pattern=LABEL_KEY, max_length=317)]
LabelValue = Annotated[str, Field(pattern=LABEL_VALUE, max_length=63)]
NodeSelector = dict[LabelKey, LabelValue]


class KubeObject(BaseModel):
    """Base of the Kubernetes objects: unknown keys are errors, as in every gemhub section."""

    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class Toleration(KubeObject):
    key: LabelKey | None = Field(None, description="Taint key the toleration matches; empty with `Exists` matches all.")
    operator: Literal["Exists", "Equal"] = Field("Equal", description="`Equal` compares `value`; `Exists` ignores it.")
    value: LabelValue | None = Field(None, description="Taint value to match (with `Equal`).")
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = Field(
        None, description="Taint effect to match; empty matches all effects."
    )
    tolerationSeconds: int | None = Field(
        None, ge=0, description="With `NoExecute`: how long the pod stays on a newly tainted node."
    )


class NodeSelectorRequirement(KubeObject):
    key: LabelKey = Field(description="Node label key.")
    operator: Literal["In", "NotIn", "Exists", "DoesNotExist", "Gt", "Lt"] = Field(
        description="How the label's value is compared with `values`."
    )
    values: list[str] = Field([], description="Values for In/NotIn (one integer for Gt/Lt; none for (Does Not)Exist).")


class NodeSelectorTerm(KubeObject):
    matchExpressions: list[NodeSelectorRequirement] = Field([], description="Requirements on node labels, all must hold.")
    matchFields: list[NodeSelectorRequirement] = Field([], description="Requirements on node fields, all must hold.")


class PreferredSchedulingTerm(KubeObject):
    weight: int = Field(ge=1, le=100, description="Weight of this preference against the others.")
    preference: NodeSelectorTerm = Field(description="The nodes preferred.")


class NodeAffinity(KubeObject):
    required: list[NodeSelectorTerm] = Field(
        [], description="User pods run only on nodes matching one of these terms (z2jh `extraNodeAffinity.required`)."
    )
    preferred: list[PreferredSchedulingTerm] = Field(
        [], description="Nodes user pods prefer (z2jh `extraNodeAffinity.preferred`)."
    )


class KeyRef(KubeObject):
    name: ObjectName = Field(description="Name of the Secret or ConfigMap, in the user pods' namespace.")
    key: Annotated[str, Field(pattern=r"^[-._A-Za-z0-9]+$")] = Field(description="Key in it.")
    optional: bool | None = Field(None, description="Start the pod even when the key is missing.")


class FieldRef(KubeObject):
    fieldPath: str = Field(description="Field of the pod, e.g. `spec.nodeName` or `status.podIP`.")


def _exactly_one_of(*names: str) -> ConfigDict:
    """The one-source rule in the JSON schema too, so Helm checks it as the model does."""
    return ConfigDict(json_schema_extra={"oneOf": [{"required": [name]} for name in names]})


ENV_SOURCES = ("secretKeyRef", "configMapKeyRef", "fieldRef")


class EnvVarSource(KubeObject):
    model_config = _exactly_one_of(*ENV_SOURCES)

    secretKeyRef: KeyRef | None = Field(None, description="Read the value from a key of a Secret.")
    configMapKeyRef: KeyRef | None = Field(None, description="Read the value from a key of a ConfigMap.")
    fieldRef: FieldRef | None = Field(None, description="Read the value from a field of the pod.")

    @model_validator(mode="after")
    def _one_source(self) -> "EnvVarSource":
        if sum(getattr(self, name) is not None for name in ENV_SOURCES) != 1:
            raise ValueError(f"give exactly one of {', '.join(ENV_SOURCES)}")
        return self


class EnvFrom(KubeObject):
    valueFrom: EnvVarSource = Field(description="Where the pod reads the value (z2jh `singleuser.extraEnv` form).")


# Volume sources user pods may mount. hostPath is deliberately absent: a user pod
# must not see the node's filesystem.
VOLUME_SOURCES = ("configMap", "secret", "persistentVolumeClaim", "emptyDir", "nfs", "csi", "projected", "ephemeral")


class Volume(KubeObject):
    model_config = _exactly_one_of(*VOLUME_SOURCES)

    name: VolumeName = Field(description="Name the volume mounts refer to (`home` is gemhub's).")
    configMap: dict[str, JsonValue] | None = Field(None, description="A ConfigMap volume source.")
    secret: dict[str, JsonValue] | None = Field(None, description="A Secret volume source.")
    persistentVolumeClaim: dict[str, JsonValue] | None = Field(None, description="A PVC volume source.")
    emptyDir: dict[str, JsonValue] | None = Field(None, description="A scratch volume for the pod's life.")
    nfs: dict[str, JsonValue] | None = Field(None, description="An NFS volume source.")
    csi: dict[str, JsonValue] | None = Field(None, description="A CSI volume source.")
    projected: dict[str, JsonValue] | None = Field(None, description="A projected volume source.")
    ephemeral: dict[str, JsonValue] | None = Field(None, description="A generic ephemeral volume source.")

    @model_validator(mode="after")
    def _one_source(self) -> "Volume":
        given = [s for s in VOLUME_SOURCES if getattr(self, s) is not None]
        if len(given) != 1:
            raise ValueError(f"give exactly one volume source of {', '.join(VOLUME_SOURCES)} (hostPath is not allowed)")
        return self


class VolumeMount(KubeObject):
    name: VolumeName = Field(description="The volume to mount (an `extra_volumes` name or `home`).")
    mountPath: Annotated[str, Field(pattern=r"^/")] = Field(description="Absolute path in the user container.")
    subPath: str | None = Field(None, description="Mount only this path inside the volume.")
    readOnly: bool | None = Field(None, description="Mount read-only.")


ImagePullPolicy = Literal["Always", "IfNotPresent", "Never"]
