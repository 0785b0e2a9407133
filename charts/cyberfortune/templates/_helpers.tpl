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

{{/* env entries (valueFrom secretKeyRef) for the backends, in the backends' own Secrets. */}}
{{- define "cf.backendEnv" -}}
- name: RABBITMQ_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.rabbitmq.bundled | ternary (include "cf.backendSecret" .) .Values.rabbitmq.external.existingSecret }}
      key: {{ .Values.rabbitmq.bundled | ternary "rabbitmq-url" "url" }}
- name: RABBITMQ_MANAGEMENT_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.rabbitmq.bundled | ternary (include "cf.backendSecret" .) .Values.rabbitmq.external.existingSecret }}
      key: {{ .Values.rabbitmq.bundled | ternary "rabbitmq-management-url" "management-url" }}
- name: REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ .Values.redis.bundled | ternary (include "cf.backendSecret" .) .Values.redis.external.existingSecret }}
      key: {{ .Values.redis.bundled | ternary "redis-url" "url" }}
- name: MONGODB_URI
  valueFrom:
    secretKeyRef:
      name: {{ .Values.mongodb.bundled | ternary (include "cf.backendSecret" .) .Values.mongodb.external.existingSecret }}
      key: {{ .Values.mongodb.bundled | ternary "mongodb-uri" "uri" }}
- name: FORTUNE_RETENTION_SECONDS
  value: {{ .Values.config.retentionSeconds | quote }}
- name: FORTUNE_LOG_LEVEL
  value: {{ .Values.config.logLevel | quote }}
- name: FORTUNE_ZI_HOUR_CONVENTION
  value: {{ .Values.config.ziHourConvention | quote }}
- name: FORTUNE_MODE
  value: kubernetes
{{- end -}}

{{/* A hardened container securityContext. */}}
{{- define "cf.securityContext" -}}
{{- toYaml .Values.securityContext -}}
{{- end -}}

{{/* terminationGracePeriodSeconds of the workers: the longest LLM call plus the drain, plus margin. */}}
{{- define "cf.workerGrace" -}}
{{- add .Values.llm.timeoutSeconds .Values.workers.shutdownGraceSeconds 15 -}}
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
