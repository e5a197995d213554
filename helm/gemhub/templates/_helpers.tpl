{{/*
Names, labels and the rendered gemhub.yaml, defined once for every template.
Resource names are `<fullname>-<component>` with z2jh's component names (hub,
proxy, proxy-public, proxy-api), so two releases can share a namespace.
*/}}

{{- define "gemhub.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "gemhub.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 63 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* `<fullname>-<component>`, kept within 63 characters. Call with (list $ "hub"). */}}
{{- define "gemhub.componentName" -}}
{{- $root := index . 0 }}
{{- printf "%s-%s" (include "gemhub.fullname" $root | trunc (int (sub 62 (len (index . 1))))) (index . 1) | trimSuffix "-" }}
{{- end }}

{{- define "gemhub.hub.serviceAccountName" -}}
{{- if .Values.hub.serviceAccount.create }}
{{- default (include "gemhub.componentName" (list . "hub")) .Values.hub.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.hub.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Labels selecting one component's pods. Call with (list $ "hub"). */}}
{{- define "gemhub.selectorLabels" -}}
{{- $root := index . 0 -}}
app.kubernetes.io/name: {{ include "gemhub.name" $root }}
app.kubernetes.io/instance: {{ $root.Release.Name }}
app.kubernetes.io/component: {{ index . 1 }}
{{- end }}

{{/* The labels of user pods: KubeSpawner's component label, and this release's instance label,
which the chart has KubeSpawner add (hub.extra_config.KubeSpawner.extra_labels in gemhub.config). */}}
{{- define "gemhub.singleuserExtraLabels" -}}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}
{{- define "gemhub.singleuserSelectorLabels" -}}
app.kubernetes.io/component: singleuser-server
{{ include "gemhub.singleuserExtraLabels" . }}
{{- end }}

{{/* Every label of one component's resources. Call with (list $ "hub"). */}}
{{- define "gemhub.labels" -}}
{{ include "gemhub.selectorLabels" . }}
{{- $root := index . 0 }}
app.kubernetes.io/version: {{ $root.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: gemhub
app.kubernetes.io/managed-by: {{ $root.Release.Service }}
helm.sh/chart: {{ printf "%s-%s" $root.Chart.Name $root.Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* `name:tag` of an image section ({name, tag}); the tag defaults to the chart's appVersion. Call with (list $ .Values.hub.image). */}}
{{- define "gemhub.image" -}}
{{- $root := index . 0 }}
{{- $image := index . 1 }}
{{- printf "%s:%s" $image.name (toString (default $root.Chart.AppVersion $image.tag)) }}
{{- end }}

{{- define "gemhub.imagePullSecrets" -}}
{{- if .Values.imagePullSecrets }}
imagePullSecrets:
{{- range .Values.imagePullSecrets }}
  - name: {{ . }}
{{- end }}
{{- end }}
{{- end }}

{{/* Ports the chart's containers listen on, fixed (they are in gemhub.yaml and the Services). */}}
{{- define "gemhub.hubPort" -}}8081{{- end }}
{{- define "gemhub.proxyPublicPort" -}}8000{{- end }}
{{- define "gemhub.proxyApiPort" -}}8001{{- end }}
{{/* The hub's own services (gemhub's default ports): on the hub pod, reached through the hub Service. */}}
{{- define "gemhub.sandboxPort" -}}8010{{- end }}
{{- define "gemhub.marketplacePort" -}}8020{{- end }}
{{- define "gemhub.credentialsPort" -}}8030{{- end }}
{{/* "true" when the hub runs the sandbox itself (gemhub.yaml's sentinelhub.sandbox: enabled, gemhub's
default, and no url of one elsewhere), so user pods reach it on the hub Service; else empty. */}}
{{- define "gemhub.hubRunsSandbox" -}}
{{- $box := default dict (dig "sentinelhub" "sandbox" dict (default dict .Values.gemhub)) }}
{{- if and (dig "enabled" true $box) (not (dig "url" "" $box)) }}true{{- end }}
{{- end }}
{{/* Where the hub image keeps its state (GEMHUB_HOME=/srv/gemhub in images/hub/Dockerfile). */}}
{{- define "gemhub.dataDir" -}}/srv/gemhub/data{{- end }}
{{- define "gemhub.configDir" -}}/etc/gemhub{{- end }}
{{- /* Not inside /etc/gemhub: a mount point nested in a ConfigMap volume cannot always be made. */}}
{{- define "gemhub.configD" -}}/etc/jupyterhub_config.d{{- end }}

{{/*
The gemhub.yaml keys the chart sets itself, each with the chart key (or the
reason) to use instead. A value under `gemhub:` for one of them fails the
render, naming both keys.
*/}}
{{- define "gemhub.ownedKeys" -}}
hub.ip: the chart (the proxy listens on every address of its pod)
hub.port: the chart (the proxy's container port)
hub.base_url: hub.baseUrl
hub.external_proxy: the chart (the proxy is its own Deployment)
hub.proxy_api_url: the chart (the proxy-api Service)
hub.data_dir: hub.db.pvc (the hub's data volume)
hub.db_url: hub.db.type and hub.db.url
hub.config_d: hub.extraConfig
hub.extra_config.JupyterHub.hub_bind_url: the chart (the hub listens on its pod's port 8081)
hub.extra_config.JupyterHub.hub_connect_url: the chart (the hub Service)
hub.extra_config.KubeSpawner.extra_labels: the chart (user pods carry the release label its NetworkPolicies select)
hub.credentials_port: the chart (a port of the hub Service)
hub.services_bind_ip: the chart (the hub's services listen on every address of its pod)
hub.services_host: the chart (the hub Service)
marketplace.port: the chart (a port of the hub Service)
sentinelhub.sandbox.port: the chart (a port of the hub Service)
spawner.type: the chart (kubernetes)
spawner.image: singleuser.image.name and singleuser.image.tag
spawner.cpu_limit: singleuser.cpu.limit
spawner.mem_limit: singleuser.memory.limit
spawner.environment: singleuser.extraEnv
spawner.profiles: singleuser.profileList
spawner.kubernetes: singleuser.* (z2jh's names) and the release namespace
culling: cull.*
{{- end }}

{{- define "gemhub.checkOwnedKeys" -}}
{{- range $path, $instead := include "gemhub.ownedKeys" . | fromYaml }}
{{- $node := $.Values.gemhub }}
{{- $found := true }}
{{- range splitList "." $path }}
{{- if and $found (kindIs "map" $node) (hasKey $node .) }}
{{- $node = index $node . }}
{{- else }}
{{- $found = false }}
{{- end }}
{{- end }}
{{- if $found }}
{{- fail (printf "gemhub.%s is set by the chart: use %s" $path $instead) }}
{{- end }}
{{- end }}
{{- end }}

{{/* The gemhub.yaml the hub reads: the `gemhub:` values plus the keys the chart owns. */}}
{{- define "gemhub.config" -}}
{{- include "gemhub.checkOwnedKeys" . }}
{{- $v := .Values }}
{{- $hub := dict
  "ip" "0.0.0.0"
  "port" (include "gemhub.proxyPublicPort" . | int)
  "base_url" $v.hub.baseUrl
  "external_proxy" true
  "proxy_api_url" (printf "http://%s:%s" (include "gemhub.componentName" (list . "proxy-api")) (include "gemhub.proxyApiPort" .))
  "data_dir" (include "gemhub.dataDir" .)
  "credentials_port" (include "gemhub.credentialsPort" . | int)
  "services_bind_ip" "0.0.0.0"
  "services_host" (include "gemhub.componentName" (list . "hub")) }}
{{- /* The hub's API must answer on the pod's address (probes, proxy, user pods), reached through its Service. */}}
{{- $api := dict
  "hub_bind_url" (printf "http://:%s" (include "gemhub.hubPort" .))
  "hub_connect_url" (printf "http://%s:%s" (include "gemhub.componentName" (list . "hub")) (include "gemhub.hubPort" .)) }}
{{- $spawnerLabels := dict "extra_labels" (include "gemhub.singleuserExtraLabels" . | fromYaml) }}
{{- $_ := set $hub "extra_config" (dict "JupyterHub" $api "KubeSpawner" $spawnerLabels) }}
{{- if $v.hub.extraConfig }}
{{- $_ := set $hub "config_d" (include "gemhub.configD" .) }}
{{- end }}
{{- if eq $v.hub.db.type "postgres" }}
{{- if not $v.hub.db.url }}
{{- fail "hub.db.url is required when hub.db.type is postgres" }}
{{- end }}
{{- $_ := set $hub "db_url" $v.hub.db.url }}
{{- else if ne $v.hub.db.type "sqlite-pvc" }}
{{- fail (printf "hub.db.type must be sqlite-pvc or postgres (got %v)" $v.hub.db.type) }}
{{- end }}
{{- $su := $v.singleuser }}
{{- $kube := dict
  "namespace" .Release.Namespace
  "storage_capacity" $su.storage.capacity
  "home_dir" $su.storage.homeMountPath
  "extra_volumes" $su.storage.extraVolumes
  "extra_volume_mounts" $su.storage.extraVolumeMounts
  "uid" $su.uid
  "fs_gid" $su.fsGid
  "image_pull_secrets" (concat $v.imagePullSecrets $su.image.pullSecrets | uniq)
  "node_selector" $su.nodeSelector
  "tolerations" $su.extraTolerations
  "node_affinity" $su.extraNodeAffinity }}
{{- range $key, $value := dict "storage_class" $su.storage.dynamic.storageClass "image_pull_policy" $su.image.pullPolicy "cpu_guarantee" $su.cpu.guarantee "mem_guarantee" $su.memory.guarantee }}
{{- if not (or (kindIs "invalid" $value) (eq (toString $value) "")) }}
{{- $_ := set $kube $key $value }}
{{- end }}
{{- end }}
{{- /* singleuser.extraEnv: plain values go to every target's spawner.environment, valueFrom entries to extra_env. */}}
{{- $environment := dict }}
{{- $extraEnv := dict }}
{{- range $name, $value := $su.extraEnv }}
{{- if kindIs "map" $value }}
{{- $_ := set $extraEnv $name $value }}
{{- else }}
{{- $_ := set $environment $name (toString $value) }}
{{- end }}
{{- end }}
{{- $_ := set $kube "extra_env" $extraEnv }}
{{- $spawner := dict "type" "kubernetes" "image" (include "gemhub.image" (list . $su.image)) "kubernetes" $kube "environment" $environment }}
{{- if not (kindIs "invalid" $v.singleuser.cpu.limit) }}
{{- $_ := set $spawner "cpu_limit" $v.singleuser.cpu.limit }}
{{- end }}
{{- if not (kindIs "invalid" $v.singleuser.memory.limit) }}
{{- $_ := set $spawner "mem_limit" $v.singleuser.memory.limit }}
{{- end }}
{{- /* singleuser.profileList (z2jh) → spawner.profiles: the override's image and limits on the profile, the
rest under its `kubernetes`; environment split as singleuser.extraEnv is. A node_affinity_* the override
leaves out keeps singleuser.extraNodeAffinity's, as KubeSpawner replaces only the traits an override names. */}}
{{- $profiles := list }}
{{- range $p := $su.profileList }}
{{- $o := default dict $p.kubespawner_override }}
{{- $profile := dict "display_name" $p.display_name "slug" $p.slug "description" (default "" $p.description) "default" (default false $p.default) }}
{{- $pk := dict }}
{{- range $key := list "image" "cpu_limit" "mem_limit" "cpu_guarantee" "mem_guarantee" "image_pull_policy" "node_selector" "tolerations" }}
{{- $value := index $o $key }}
{{- if not (kindIs "invalid" $value) }}
{{- $_ := set (has $key (list "image" "cpu_limit" "mem_limit") | ternary $profile $pk) $key $value }}
{{- end }}
{{- end }}
{{- $affinity := deepCopy $su.extraNodeAffinity }}
{{- $affinitySet := false }}
{{- range $key := list "required" "preferred" }}
{{- $value := index $o (printf "node_affinity_%s" $key) }}
{{- if not (kindIs "invalid" $value) }}
{{- $_ := set $affinity $key $value }}
{{- $affinitySet = true }}
{{- end }}
{{- end }}
{{- if $affinitySet }}
{{- $_ := set $pk "node_affinity" $affinity }}
{{- end }}
{{- $plain := dict }}
{{- $fromSource := dict }}
{{- range $name, $value := $o.environment }}
{{- if kindIs "map" $value }}
{{- $_ := set $fromSource $name $value }}
{{- else }}
{{- $_ := set $plain $name (toString $value) }}
{{- end }}
{{- end }}
{{- if $plain }}
{{- $_ := set $pk "environment" $plain }}
{{- end }}
{{- if $fromSource }}
{{- $_ := set $pk "extra_env" $fromSource }}
{{- end }}
{{- if $pk }}
{{- $_ := set $profile "kubernetes" $pk }}
{{- end }}
{{- $profiles = append $profiles $profile }}
{{- end }}
{{- if $profiles }}
{{- $_ := set $spawner "profiles" $profiles }}
{{- end }}
{{- $culling := dict "enabled" $v.cull.enabled "users" $v.cull.users "timeout" $v.cull.timeout "every" $v.cull.every "max_age" $v.cull.maxAge }}
{{- $owned := dict "hub" $hub "spawner" $spawner "culling" $culling }}
{{- /* The hub's services listen on its pod's addresses, at the ports of the hub Service. */}}
{{- $_ := set $owned "marketplace" (dict "port" (include "gemhub.marketplacePort" . | int)) }}
{{- $_ := set $owned "sentinelhub" (dict "sandbox" (dict "port" (include "gemhub.sandboxPort" . | int))) }}
{{- mustMergeOverwrite (deepCopy (default dict $v.gemhub)) $owned | toYaml }}
{{- end }}
