{{- define "lagwatch.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{- define "lagwatch.fullname" -}}
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

{{- define "lagwatch.selectorLabels" -}}
app.kubernetes.io/name: {{ include "lagwatch.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end }}

{{- define "lagwatch.labels" -}}
helm.sh/chart: {{ printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{ include "lagwatch.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
{{- end }}

{{- define "lagwatch.serviceAccountName" -}}
{{- if .Values.serviceAccount.create }}
{{- default (include "lagwatch.fullname" .) .Values.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.serviceAccount.name }}
{{- end }}
{{- end }}

{{/* Refuse what would run but misbehave: several replicas without an elected notifier. */}}
{{- define "lagwatch.validate" -}}
{{- if and (gt (int .Values.replicaCount) 1) (not .Values.config.coordination) }}
{{- fail "replicaCount > 1 requires config.coordination (the replicas elect one notifier through a Kafka consumer group); without it every replica sends every alert" }}
{{- end }}
{{- if and (gt (int .Values.replicaCount) 1) .Values.stateDir.existingClaim }}
{{- fail "stateDir.existingClaim serves a single replica; with replicaCount > 1 the incident state is in Kafka (config.coordination)" }}
{{- end }}
{{- end }}
