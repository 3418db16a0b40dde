{{/* Chart name, truncated to the 63 characters DNS names allow. */}}
{{- define "e2e-energy.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Resource name prefix: <release>-<chart> unless the release already contains the chart name. */}}
{{- define "e2e-energy.fullname" -}}
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

{{- define "e2e-energy.agentName" -}}
{{- printf "%s-agent" (include "e2e-energy.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "e2e-energy.attributorName" -}}
{{- printf "%s-attributor" (include "e2e-energy.fullname" .) | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Labels on every resource. */}}
{{- define "e2e-energy.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
app.kubernetes.io/name: {{ include "e2e-energy.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: e2e-energy
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* Selector labels of one component (agent or attributor); pass (dict "ctx" $ "component" "agent"). */}}
{{- define "e2e-energy.selectorLabels" -}}
app.kubernetes.io/name: {{ include "e2e-energy.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* A component's image reference; pass (dict "ctx" $ "image" .Values.agent.image). */}}
{{- define "e2e-energy.image" -}}
{{- $img := .image }}
{{- if $img.digest }}
{{- printf "%s@%s" $img.repository $img.digest }}
{{- else }}
{{- printf "%s:%s" $img.repository (default .ctx.Chart.AppVersion (default .ctx.Values.image.tag $img.tag)) }}
{{- end }}
{{- end }}

{{- define "e2e-energy.agentServiceAccountName" -}}
{{- if .Values.agent.serviceAccount.create }}
{{- default (include "e2e-energy.agentName" .) .Values.agent.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.agent.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "e2e-energy.attributorServiceAccountName" -}}
{{- if .Values.attributor.serviceAccount.create }}
{{- default (include "e2e-energy.attributorName" .) .Values.attributor.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.attributor.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Name of the Secret mounted into the attributor, empty when none. */}}
{{- define "e2e-energy.secretName" -}}
{{- if .Values.secrets.existingSecret }}
{{- .Values.secrets.existingSecret }}
{{- else if .Values.secrets.create }}
{{- printf "%s-credentials" (include "e2e-energy.fullname" .) }}
{{- end }}
{{- end }}

{{/* The agent's settings file: only the `agent` block matters to `e2e-energy agent`. */}}
{{- define "e2e-energy.agentSettings" -}}
{{- $a := .Values.agent }}
{{- $agent := dict
  "listen" (printf "%s:%d" $a.bindAddress (int $a.port))
  "interfaces" $a.interfaces
  "engine" $a.engine
  "ebpf_map_entries" $a.ebpfMapEntries
  "trace_ids" $a.traceIds
  "max_flows" $a.maxFlows
  "max_trace_ids" $a.maxTraceIds
  "workers" $a.workers
  "sample" $a.sample
  "idle_timeout_seconds" $a.idleTimeoutSeconds
  "ring_block_size" $a.ringBlockSize
  "ring_block_count" $a.ringBlockCount
  "snaplen" $a.snaplen
  "promiscuous" $a.promiscuous }}
{{- $doc := dict "agent" $agent }}
{{- $web := include "e2e-energy.webSettings" . }}
{{- if $web }}{{ $_ := set $doc "web" ($web | fromYaml) }}{{ end }}
{{- toYaml $doc }}
{{- end }}

{{/* The agent's added capabilities: what its engine needs (auto: both engines' sets). */}}
{{- define "e2e-energy.agentCapabilities" -}}
{{- $a := .Values.agent }}
{{- $caps := list }}
{{- if ne $a.engine "afpacket" }}
{{- $caps = concat $caps (list "BPF" "PERFMON" "NET_ADMIN") }}
{{- end }}
{{- if ne $a.engine "ebpf" }}
{{- $caps = append $caps "NET_RAW" }}
{{- if $a.promiscuous }}
{{- $caps = append $caps "NET_ADMIN" }}
{{- end }}
{{- end }}
{{- toYaml (uniq $caps) }}
{{- end }}

{{/* The attributor's settings file: the user's `config` plus what the chart owns. */}}
{{- define "e2e-energy.attributorSettings" -}}
{{- $cfg := deepCopy .Values.config }}
{{- if not $cfg.shares }}{{ $_ := unset $cfg "shares" }}{{ end }}
{{- if not $cfg.apps_kubernetes }}{{ $_ := unset $cfg "apps_kubernetes" }}{{ end }}
{{- if not $cfg.placement }}{{ $_ := unset $cfg "placement" }}{{ end }}
{{- $k8s := dict "namespace" .Release.Namespace "service" (include "e2e-energy.agentName" .) "port" (int .Values.agent.port) }}
{{- $_ := set $cfg "agents" (dict "kubernetes" $k8s) }}
{{- $_ := set $cfg.store "path" "/var/lib/e2e-energy/store.sqlite" }}
{{- $_ := set $cfg.api "listen" (printf "0.0.0.0:%d" (int .Values.attributor.port)) }}
{{- if not $cfg.api.token_file }}{{ $_ := unset $cfg.api "token_file" }}{{ end }}
{{- $web := include "e2e-energy.webSettings" . }}
{{- if $web }}{{ $_ := set $cfg "web" ($web | fromYaml) }}{{ end }}
{{- toYaml $cfg }}
{{- end }}

{{/* Fails the render when a settings document holds an inline credential (use *_file keys). */}}
{{- define "e2e-energy.noInlineSecrets" -}}
{{- if regexMatch "(?m)^\\s*(-\\s+)?(token|password|community|auth_key|priv_key)\\s*:\\s*\\S" . }}
{{- fail "config holds an inline credential (token, password, community, auth_key or priv_key): put it in a Secret (secrets.existingSecret or secrets.data) and point the matching *_file key under secrets.mountPath" }}
{{- end }}
{{- end }}

{{/* The settings' `web:` block (both components) from the web values; empty when TLS and auth
are off. Its files are the keys of web.tls.existingSecret and web.auth.existingSecret, mounted
read-only by e2e-energy.webVolumeMounts. */}}
{{- define "e2e-energy.webSettings" -}}
{{- $w := .Values.web }}
{{- $web := dict }}
{{- if $w.tls.enabled }}
{{- if not $w.tls.existingSecret }}
{{- fail "web.tls.enabled needs web.tls.existingSecret: the Secret holding the certificate and key" }}
{{- end }}
{{- $tls := dict "cert_file" (printf "%s/%s" $w.tls.mountPath $w.tls.certKey) "key_file" (printf "%s/%s" $w.tls.mountPath $w.tls.keyKey) "min_version" $w.tls.minVersion }}
{{- if $w.tls.clientCAKey }}
{{- $_ := set $tls "client_ca_file" (printf "%s/%s" $w.tls.mountPath $w.tls.clientCAKey) }}
{{- $_ := set $tls "client_auth" $w.tls.clientAuth }}
{{- end }}
{{- $_ := set $web "tls" $tls }}
{{- end }}
{{- if $w.auth.existingSecret }}
{{- if not (or $w.auth.bearerTokenKey $w.auth.basicAuthUsername) }}
{{- fail "web.auth.existingSecret needs web.auth.bearerTokenKey or web.auth.basicAuthUsername" }}
{{- end }}
{{- if $w.auth.bearerTokenKey }}
{{- $_ := set $web "bearer_token_file" (printf "%s/%s" $w.auth.mountPath $w.auth.bearerTokenKey) }}
{{- end }}
{{- if $w.auth.basicAuthUsername }}
{{- $_ := set $web "basic_auth" (dict "username" $w.auth.basicAuthUsername "password_file" (printf "%s/%s" $w.auth.mountPath $w.auth.basicAuthPasswordKey)) }}
{{- end }}
{{- else if or $w.auth.bearerTokenKey $w.auth.basicAuthUsername }}
{{- fail "web.auth.bearerTokenKey and web.auth.basicAuthUsername need web.auth.existingSecret" }}
{{- end }}
{{- if $web }}
{{- toYaml $web }}
{{- end }}
{{- end }}

{{/* The web Secrets' mounts (read-only), for both containers. */}}
{{- define "e2e-energy.webVolumeMounts" -}}
{{- $w := .Values.web }}
{{- if $w.tls.enabled }}
- name: web-tls
  mountPath: {{ $w.tls.mountPath }}
  readOnly: true
{{- end }}
{{- if $w.auth.existingSecret }}
- name: web-auth
  mountPath: {{ $w.auth.mountPath }}
  readOnly: true
{{- end }}
{{- end }}

{{/* The web Secrets as volumes (group-readable for the attributor's fsGroup, root for the agent). */}}
{{- define "e2e-energy.webVolumes" -}}
{{- $w := .Values.web }}
{{- if $w.tls.enabled }}
- name: web-tls
  secret:
    secretName: {{ $w.tls.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- if $w.auth.existingSecret }}
- name: web-auth
  secret:
    secretName: {{ $w.auth.existingSecret }}
    defaultMode: 0440
{{- end }}
{{- end }}

{{/* A probe's handler on a named port: HTTP, HTTPS with web.tls, or a TCP connection where the
server requires client certificates (the kubelet presents none). Pass (dict "ctx" $ "path" P
"port" NAME). */}}
{{- define "e2e-energy.probeHandler" -}}
{{- $tls := .ctx.Values.web.tls }}
{{- if and $tls.enabled $tls.clientCAKey (eq $tls.clientAuth "require") }}
tcpSocket:
  port: {{ .port }}
{{- else }}
httpGet:
  path: {{ .path }}
  port: {{ .port }}
  {{- if $tls.enabled }}
  scheme: HTTPS
  {{- end }}
{{- end }}
{{- end }}

{{/* How the monitors reach a component: scheme, tlsConfig and credentials from the web values.
Pass (dict "ctx" $ "component" "agent"|"attributor"). */}}
{{- define "e2e-energy.monitorSecurity" -}}
{{- $w := .ctx.Values.web }}
{{- if $w.tls.enabled }}
{{- $service := ternary (include "e2e-energy.agentName" .ctx) (include "e2e-energy.attributorName" .ctx) (eq .component "agent") }}
{{- $tlsConfig := dict "serverName" (printf "%s.%s.svc" $service .ctx.Release.Namespace) }}
{{- if $w.monitor.caKey }}
{{- $_ := set $tlsConfig "ca" (dict "secret" (dict "name" $w.tls.existingSecret "key" $w.monitor.caKey)) }}
{{- end }}
scheme: https
tlsConfig:
  {{- toYaml (mergeOverwrite $tlsConfig (deepCopy $w.monitor.tlsConfig)) | nindent 2 }}
{{- else }}
scheme: http
{{- end }}
{{- if $w.auth.existingSecret }}
{{- if $w.auth.bearerTokenKey }}
authorization:
  type: Bearer
  credentials:
    name: {{ $w.auth.existingSecret }}
    key: {{ $w.auth.bearerTokenKey }}
{{- else }}
basicAuth:
  username:
    name: {{ $w.auth.existingSecret }}
    key: {{ $w.auth.basicAuthUsernameKey }}
  password:
    name: {{ $w.auth.existingSecret }}
    key: {{ $w.auth.basicAuthPasswordKey }}
{{- end }}
{{- end }}
{{- end }}
