{{/* Names and labels. */}}
{{- define "llm-gateway.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "llm-gateway.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "llm-gateway.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "llm-gateway.selectorLabels" -}}
app.kubernetes.io/name: {{ include "llm-gateway.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{- define "llm-gateway.labels" -}}
helm.sh/chart: {{ include "llm-gateway.chart" . }}
{{ include "llm-gateway.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: llm-gateway
{{- end -}}

{{- define "llm-gateway.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "llm-gateway.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* repository:tag, or repository@digest. */}}
{{- define "llm-gateway.imageRef" -}}
{{- if .image.digest -}}
{{- printf "%s@%s" .image.repository .image.digest -}}
{{- else -}}
{{- printf "%s:%s" .image.repository (toString (default .default .image.tag)) -}}
{{- end -}}
{{- end -}}

{{- define "llm-gateway.gatewayImage" -}}
{{- include "llm-gateway.imageRef" (dict "image" .Values.image "default" .Chart.AppVersion) -}}
{{- end -}}

{{- define "llm-gateway.envoyImage" -}}
{{- include "llm-gateway.imageRef" (dict "image" .Values.envoy.image "default" "v1.40.0") -}}
{{- end -}}

{{/* The Secret the chart creates for variables: only when it has something to hold. */}}
{{- define "llm-gateway.envSecretData" -}}
{{- $data := dict -}}
{{- range $k, $v := .Values.secrets.providerKeys -}}
{{- if not (regexMatch "^[A-Za-z_][A-Za-z0-9_]*$" $k) -}}
{{- fail (printf "secrets.providerKeys: %q is not an environment variable name" $k) -}}
{{- end -}}
{{- if $v -}}{{- $_ := set $data $k (toString $v) -}}{{- end -}}
{{- end -}}
{{- if .Values.secrets.adminKey -}}{{- $_ := set $data "GATEWAY_ADMIN_KEY" .Values.secrets.adminKey -}}{{- end -}}
{{- if and .Values.externalDatabase.url (not .Values.externalDatabase.existingSecret) -}}{{- $_ := set $data "DATABASE_URL" .Values.externalDatabase.url -}}{{- end -}}
{{- if and .Values.externalRedis.url (not .Values.externalRedis.existingSecret) -}}{{- $_ := set $data "REDIS_URL" .Values.externalRedis.url -}}{{- end -}}
{{- toJson $data -}}
{{- end -}}

{{- define "llm-gateway.envSecretName" -}}
{{- printf "%s-env" (include "llm-gateway.fullname" .) -}}
{{- end -}}

{{- define "llm-gateway.encryptionSecretName" -}}
{{- default (printf "%s-encryption" (include "llm-gateway.fullname" .)) .Values.encryptionKey.existingSecret -}}
{{- end -}}

{{- define "llm-gateway.hasDatabase" -}}
{{- if or .Values.externalDatabase.url .Values.externalDatabase.existingSecret -}}true{{- end -}}
{{- end -}}

{{- define "llm-gateway.hasRedis" -}}
{{- if or .Values.externalRedis.url .Values.externalRedis.existingSecret -}}true{{- end -}}
{{- end -}}

{{/*
What the values cannot combine into a working deployment: refused at render time, each with
the value to change.
*/}}
{{- define "llm-gateway.validate" -}}
{{- $v := .Values -}}
{{- $cfg := default dict $v.config -}}
{{- range $section, $keys := dict "server" (list "listen_address" "http_port" "http_enabled" "shutdown_grace_seconds") "processor" (list "listen_address" "advertise_address" "grpc_port" "admin_port" "workers" "ext_proc_port") "store" (list "data_dir") -}}
{{- $s := get $cfg $section -}}
{{- if $s -}}
{{- range $keys -}}
{{- if hasKey $s . -}}
{{- fail (printf "config.%s.%s is set by the chart: use the chart's values (server.*, processor.*, mtls.*) instead" $section .) -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- end -}}
{{- if hasKey $cfg "envoy" -}}
{{- fail "config.envoy is set by the chart: use envoy.* values (concurrency, logLevel, adminPort)" -}}
{{- end -}}
{{- range list "enabled" "port" -}}
{{- if hasKey (default dict (get $cfg "mcp")) . -}}
{{- fail (printf "config.mcp.%s is set by the chart: use mcp.enabled and processor.mcpPort instead" .) -}}
{{- end -}}
{{- end -}}
{{- if not (has $v.service.sessionAffinity (list "None" "ClientIP")) -}}
{{- fail "service.sessionAffinity must be None or ClientIP" -}}
{{- end -}}
{{- if hasKey $cfg "mtls" -}}
{{- fail "config.mtls is set by the chart: use mtls.* values (enabled, port, secretName, identities)" -}}
{{- end -}}
{{- if and $v.mtls.enabled (not $v.mtls.secretName) -}}
{{- fail "mtls.enabled needs mtls.secretName: a Secret with tls.crt, tls.key and ca.crt" -}}
{{- end -}}
{{- if not (or $v.server.httpEnabled $v.mtls.enabled) -}}
{{- fail "server.httpEnabled and mtls.enabled are both off: the gateway would have no listener" -}}
{{- end -}}
{{- if and (not (include "llm-gateway.hasDatabase" .)) (or $v.autoscaling.enabled (gt (int $v.replicaCount) 1)) -}}
{{- fail "more than one replica (replicaCount > 1 or autoscaling.enabled) needs externalDatabase: with SQLite each pod would have its own keys, usage and settings" -}}
{{- end -}}
{{- if and (not (kindIs "string" $v.processor.workers)) (gt (int $v.processor.workers) (int $v.envoy.concurrency)) -}}
{{- fail "processor.workers is larger than envoy.concurrency: Envoy opens one connection per thread, so some workers would get no traffic" -}}
{{- end -}}
{{- $ports := list (int $v.envoy.adminPort) (int $v.envoy.opsPort) (int $v.processor.grpcPort) (int $v.processor.adminPort) -}}
{{- if $v.server.httpEnabled -}}{{- $ports = append $ports (int $v.server.httpPort) -}}{{- end -}}
{{- if $v.mtls.enabled -}}{{- $ports = append $ports (int $v.mtls.port) -}}{{- end -}}
{{- if and (not (kindIs "string" $v.processor.workers)) (gt (int $v.processor.workers) 1) -}}{{- $ports = append $ports (int $v.processor.extProcPort) -}}{{- end -}}
{{- if $v.mcp.enabled -}}{{- $ports = append $ports (int $v.processor.mcpPort) -}}{{- end -}}
{{- /* The echo demo provider is on unless the configuration turns it off (port 9004 by default). */ -}}
{{- $echo := dig "demo" "echo" dict $cfg -}}
{{- if ne (toString (dig "enabled" true $echo)) "false" -}}{{- $ports = append $ports (int (dig "port" 9004 $echo)) -}}{{- end -}}
{{- if ne (len $ports) (len (uniq $ports)) -}}
{{- fail (printf "two listeners share a port in the pod: %v (server.httpPort, mtls.port, envoy.adminPort/opsPort, processor.grpcPort/adminPort/extProcPort/mcpPort, config.demo.echo.port)" $ports) -}}
{{- end -}}
{{- end -}}

{{/*
gateway.yaml: the values' `config` with the pod layout the chart owns on top. Paths are
relative to /etc/llm-gateway, where the config volume (gateway.yaml, tls/) is mounted.
*/}}
{{- define "llm-gateway.gatewayConfig" -}}
{{- $v := .Values -}}
{{- $owned := dict
  "server" (dict "listen_address" "0.0.0.0" "http_port" (int $v.server.httpPort) "http_enabled" $v.server.httpEnabled "shutdown_grace_seconds" $v.server.shutdownGraceSeconds)
  "envoy" (dict "manage" false "admin_address" "127.0.0.1" "admin_port" (int $v.envoy.adminPort) "concurrency" (int $v.envoy.concurrency) "log_level" $v.envoy.logLevel "bootstrap_path" "/etc/envoy/envoy.yaml")
  "processor" (dict "listen_address" "127.0.0.1" "advertise_address" "127.0.0.1" "grpc_port" (int $v.processor.grpcPort) "admin_port" (int $v.processor.adminPort) "workers" $v.processor.workers "ext_proc_port" (int $v.processor.extProcPort))
  "store" (dict "data_dir" "/var/lib/llm-gateway")
  "mcp" (dict "enabled" (eq (toString $v.mcp.enabled) "true") "port" (int $v.processor.mcpPort))
-}}
{{- if $v.mtls.enabled -}}
{{- $_ := set $owned "mtls" (dict "enabled" true "listen_address" "0.0.0.0" "port" (int $v.mtls.port) "server_cert" "tls/tls.crt" "server_key" "tls/tls.key" "client_ca" "tls/ca.crt" "identities" (default list $v.mtls.identities)) -}}
{{- end -}}
{{- $cfg := mustMergeOverwrite (deepCopy (default dict $v.config)) $owned -}}
{{- toYaml $cfg -}}
{{- end -}}

{{/*
The ops listener, merged into the generated bootstrap with Envoy's --config-yaml (repeated
fields such as listeners and clusters are appended): probes and Prometheus reach Envoy's admin
and the processor's admin server through it, read-only paths and GET only, while both stay on
the pod's loopback. `gateway_admin` is the generated bootstrap's cluster for the processor's
admin server.
*/}}
{{- define "llm-gateway.envoyOpsBootstrap" -}}
{{- $get := list (dict "name" ":method" "string_match" (dict "exact" "GET")) -}}
{{- $route := dict "name" "ops" "virtual_hosts" (list (dict "name" "ops" "domains" (list "*") "routes" (list
  (dict "match" (dict "path" "/ready" "headers" $get) "route" (dict "cluster" "ops_envoy_admin" "timeout" "5s"))
  (dict "match" (dict "path" "/stats/prometheus" "headers" $get) "route" (dict "cluster" "ops_envoy_admin" "timeout" "10s"))
  (dict "match" (dict "path" "/health" "headers" $get) "route" (dict "cluster" "gateway_admin" "timeout" "5s"))
  (dict "match" (dict "path" "/metrics" "headers" $get) "route" (dict "cluster" "gateway_admin" "timeout" "10s"))
))) -}}
{{- $hcm := dict
  "@type" "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager"
  "stat_prefix" "ops"
  "route_config" $route
  "http_filters" (list (dict "name" "envoy.filters.http.router" "typed_config" (dict "@type" "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router")))
-}}
{{- $listener := dict
  "name" "ops"
  "address" (dict "socket_address" (dict "address" "0.0.0.0" "port_value" (int .Values.envoy.opsPort)))
  "filter_chains" (list (dict "filters" (list (dict "name" "envoy.filters.network.http_connection_manager" "typed_config" $hcm))))
-}}
{{- $endpoint := dict "endpoint" (dict "address" (dict "socket_address" (dict "address" "127.0.0.1" "port_value" (int .Values.envoy.adminPort)))) -}}
{{- $cluster := dict
  "name" "ops_envoy_admin"
  "type" "STATIC"
  "connect_timeout" "1s"
  "load_assignment" (dict "cluster_name" "ops_envoy_admin" "endpoints" (list (dict "lb_endpoints" (list $endpoint))))
-}}
{{- toJson (dict "static_resources" (dict "listeners" (list $listener) "clusters" (list $cluster))) -}}
{{- end -}}

{{/* Environment of the processor and of the init container (gateway.yaml may reference it). */}}
{{- define "llm-gateway.env" -}}
- name: GATEWAY_ENCRYPTION_KEY
  valueFrom:
    secretKeyRef:
      name: {{ include "llm-gateway.encryptionSecretName" . }}
      key: {{ if .Values.encryptionKey.existingSecret }}{{ .Values.encryptionKey.existingSecretKey }}{{ else }}GATEWAY_ENCRYPTION_KEY{{ end }}
{{- with .Values.externalDatabase }}
{{- if .existingSecret }}
- name: DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .existingSecretKey }}
{{- end }}
{{- end }}
{{- with .Values.externalRedis }}
{{- if .existingSecret }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .existingSecret }}
      key: {{ .existingSecretKey }}
{{- end }}
{{- end }}
{{- with .Values.processor.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "llm-gateway.envFrom" -}}
{{- if ne (include "llm-gateway.envSecretData" .) "{}" }}
- secretRef:
    name: {{ include "llm-gateway.envSecretName" . }}
{{- end }}
{{- if .Values.secrets.existingSecret }}
- secretRef:
    name: {{ .Values.secrets.existingSecret }}
{{- end }}
{{- with .Values.processor.extraEnvFrom }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/* An HTTP GET to a loopback port with bash's /dev/tcp (neither image has curl); 200 or fail. */}}
{{- define "llm-gateway.loopbackGet" -}}
- bash
- -c
- >-
  exec 3<>/dev/tcp/127.0.0.1/{{ .port }}
  && printf 'GET {{ .path }} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n' >&3
  && read -r _ status _ <&3
  && [ "$status" = 200 ]
{{- end -}}
