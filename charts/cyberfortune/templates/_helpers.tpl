{{/* Names, labels, images and the environment shared by the components. */}}

{{- define "cf.name" -}}
{{- .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cf.fullname" -}}
{{- if contains .Chart.Name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name .Chart.Name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}

{{/* cf.component: "<fullname>-<component>" (call with dict "ctx" $ "component" "api"). */}}
{{- define "cf.component" -}}
{{- printf "%s-%s" (include "cf.fullname" .ctx) .component | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "cf.selectorLabels" -}}
app.kubernetes.io/name: {{ include "cf.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "cf.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .ctx.Chart.Name .ctx.Chart.Version | replace "+" "_" }}
{{ include "cf.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
app.kubernetes.io/part-of: cyberfortune
{{- end -}}

{{/* cf.image: one of our images (call with dict "ctx" $ "image" .Values.api.image). */}}
{{- define "cf.image" -}}
{{- $tag := .image.tag | default .ctx.Values.image.tag | default .ctx.Chart.AppVersion -}}
{{- if .ctx.Values.image.registry -}}
{{- printf "%s/%s:%s" .ctx.Values.image.registry .image.repository $tag -}}
{{- else -}}
{{- printf "%s:%s" .image.repository $tag -}}
{{- end -}}
{{- end -}}

{{- define "cf.namespaces" -}}
{{- if .Values.operator.watchNamespaces -}}
{{- join "," .Values.operator.watchNamespaces -}}
{{- else -}}
{{- .Release.Namespace -}}
{{- end -}}
{{- end -}}

{{/* The Secret holding backend URLs and credentials the chart generates (bundled backends). */}}
{{- define "cf.backendSecret" -}}
{{- include "cf.component" (dict "ctx" . "component" "backends") -}}
{{- end -}}

{{- define "cf.llmSecretName" -}}
{{- .Values.llm.existingSecret | default (include "cf.component" (dict "ctx" . "component" "llm")) -}}
{{- end -}}

{{/* The Secret of the session keys and the identity key (the API's). */}}
{{- define "cf.sessionsSecretName" -}}
{{- .Values.sessions.existingSecret | default (include "cf.component" (dict "ctx" . "component" "sessions")) -}}
{{- end -}}

{{/* The Secret of the WeChat AppSecret (key app-secret). */}}
{{- define "cf.wechatSecretName" -}}
{{- .Values.wechat.existingSecret | default (include "cf.component" (dict "ctx" . "component" "wechat")) -}}
{{- end -}}

{{/* The WeChat app's environment (API and workers), when an AppID is set. */}}
{{- define "cf.wechatEnv" -}}
{{- if .Values.wechat.appId }}
- name: FORTUNE_WECHAT_APP_ID
  value: {{ .Values.wechat.appId | quote }}
- name: FORTUNE_WECHAT_API_BASE
  value: {{ .Values.wechat.apiBase | quote }}
- name: FORTUNE_WECHAT_SUBSCRIBE_TEMPLATE_ID
  value: {{ .Values.wechat.subscribeTemplateId | quote }}
- name: FORTUNE_WECHAT_APP_SECRET
  valueFrom:
    secretKeyRef:
      name: {{ include "cf.wechatSecretName" . }}
      key: app-secret
{{- end }}
{{- end -}}

{{/* The Secret of one component's backend credentials (only its own). */}}
{{- define "cf.componentSecret" -}}
{{- printf "%s-backends" (include "cf.component" .) -}}
{{- end -}}

{{/* env entries (valueFrom secretKeyRef) for the backends of one component: called with
(dict "ctx" . "component" "api"|"operator"|"worker"). Bundled backends: the component's own
Secret (its own users); external ones: the Secrets given in the values. The API gets no AMQP URL
(in Kubernetes mode it never publishes), only the management URL of the monitoring user. */}}
{{- define "cf.backendEnv" -}}
{{- $ctx := .ctx }}
{{- $own := include "cf.componentSecret" . }}
{{- if ne .component "api" }}
- name: RABBITMQ_URL
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.rabbitmq.bundled | ternary $own $ctx.Values.rabbitmq.external.existingSecret }}
      key: {{ $ctx.Values.rabbitmq.bundled | ternary "rabbitmq-url" "url" }}
{{- end }}
- name: RABBITMQ_MANAGEMENT_URL
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.rabbitmq.bundled | ternary $own $ctx.Values.rabbitmq.external.existingSecret }}
      key: {{ $ctx.Values.rabbitmq.bundled | ternary "rabbitmq-management-url" "management-url" }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.redis.bundled | ternary $own $ctx.Values.redis.external.existingSecret }}
      key: {{ $ctx.Values.redis.bundled | ternary "redis-url" "url" }}
- name: MONGODB_URI
  valueFrom:
    secretKeyRef:
      name: {{ $ctx.Values.mongodb.bundled | ternary $own $ctx.Values.mongodb.external.existingSecret }}
      key: {{ $ctx.Values.mongodb.bundled | ternary "mongodb-uri" "uri" }}
- name: FORTUNE_RETENTION_SECONDS
  value: {{ $ctx.Values.config.retentionSeconds | int64 | quote }}
- name: FORTUNE_CACHE_FINISHED_SECONDS
  value: {{ $ctx.Values.config.cacheFinishedSeconds | int64 | quote }}
- name: FORTUNE_QUEUE_MAX_LENGTH
  value: {{ $ctx.Values.config.queueMaxLength | int64 | quote }}
- name: FORTUNE_LOG_LEVEL
  value: {{ $ctx.Values.config.logLevel | quote }}
- name: FORTUNE_ZI_HOUR_CONVENTION
  value: {{ $ctx.Values.config.ziHourConvention | quote }}
- name: FORTUNE_MODE
  value: kubernetes
{{- end -}}

{{/* A hardened container securityContext. */}}
{{- define "cf.securityContext" -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}

{{/* The workers' drain on SIGTERM: workers.shutdownGraceSeconds, or (0) the longest call an
admitted request can make, its answer and one repair call, plus 10 s to store and ack: the worker
computes the same from FORTUNE_LLM_TIMEOUT_SECONDS, so a scale-down never abandons a paid call. */}}
{{- define "cf.workerDrain" -}}
{{- if .Values.workers.shutdownGraceSeconds -}}
{{- .Values.workers.shutdownGraceSeconds | int64 -}}
{{- else -}}
{{- add (mul 2 (.Values.llm.timeoutSeconds | int64)) 10 -}}
{{- end -}}
{{- end -}}

{{/* terminationGracePeriodSeconds of the workers: the drain plus margin to exit. */}}
{{- define "cf.workerGrace" -}}
{{- add (include "cf.workerDrain" . | int64) 15 -}}
{{- end -}}

{{/* What the pods' credentials come from: a change (another existing Secret, a user) rolls them.
Generated passwords are kept across upgrades, so they are not part of it. */}}
{{- define "cf.credentialsChecksum" -}}
{{- $inputs := list -}}
{{- range $name := list "rabbitmq" "redis" "mongodb" -}}
{{- $b := index $.Values $name -}}
{{- $inputs = append $inputs (list $b.bundled $b.existingSecret $b.external.existingSecret ($b.username | default "") ($b.auth | default "")) -}}
{{- end -}}
{{- $inputs = append $inputs (list .Values.llm.existingSecret .Values.llm.apiKey) -}}
{{- $inputs | toJson | sha256sum | trunc 16 -}}
{{- end -}}

{{/* kube-score exceptions, each for a reason:
- container-image-pull-policy: our images are pinned by tag (and by digest where a registry gives
  one); `Always` would make every pod start depend on the registry being reachable. */}}
{{- define "cf.scoreIgnores" -}}
kube-score/ignore: container-image-pull-policy
{{- end -}}

{{/* Spread replicas of one component over nodes when the cluster has several (preferred only:
a one-node cluster still runs them all). Used unless the component's affinity is set. */}}
{{- define "cf.spread" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels: {{- include "cf.selectorLabels" . | nindent 12 }}
{{- end -}}

{{/* A number as environment variables and annotations want it: whole numbers without an exponent
(Helm reads values as floats, and 1000000 would print as 1e+06), fractions as they are. */}}
{{- define "cf.number" -}}
{{- if eq (float64 .) (float64 (int64 .)) -}}{{ int64 . }}{{- else -}}{{ . }}{{- end -}}
{{- end -}}
