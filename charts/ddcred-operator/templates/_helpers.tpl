{{/* Names ------------------------------------------------------------------- */}}

{{/* The chart's name, or nameOverride. */}}
{{- define "ddcred.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
The prefix of every object name: "<release>-<name>", or the release name
alone when it already contains the chart name. Kept to 52 characters so the
longest suffix ("-webhook-tls") still fits a 63-character name.
*/}}
{{- define "ddcred.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- $name := include "ddcred.name" . -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 52 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 52 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{- define "ddcred.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "ddcred.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "ddcred.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- required "serviceAccount.name is required when serviceAccount.create is false" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/* The Service the API server calls; the operator derives the certificate's DNS names from it. */}}
{{- define "ddcred.serviceName" -}}
{{- include "ddcred.fullname" . -}}
{{- end -}}

{{/* Cluster-scoped, so the release name keeps two installs apart. */}}
{{- define "ddcred.webhookConfigurationName" -}}
{{- include "ddcred.fullname" . -}}
{{- end -}}

{{- define "ddcred.leaseName" -}}
{{- default (include "ddcred.fullname" .) .Values.leaderElection.leaseName -}}
{{- end -}}

{{- define "ddcred.tlsSecretName" -}}
{{- default (printf "%s-webhook-tls" (include "ddcred.fullname" .)) .Values.webhook.tls.secretName -}}
{{- end -}}

{{/* cert-manager mode: the serving Certificate (the cainjector reads its CA). */}}
{{- define "ddcred.certificateName" -}}
{{- printf "%s-webhook" (include "ddcred.fullname" .) -}}
{{- end -}}

{{/* Where the operator reads a mounted certificate (DDCRED_TLS_CERT_DIR). */}}
{{- define "ddcred.tlsCertDir" -}}
/var/run/ddcred-operator/tls
{{- end -}}

{{/* Labels --------------------------------------------------------------------- */}}

{{/*
Labels of every object. Call with (dict "context" $ "component" "operator"),
and "extra" for more labels (pod labels). The chart's own labels win over
commonLabels and extra ones, so a value can never change a selector.
Components: operator, webhook, rbac, metrics.
*/}}
{{- define "ddcred.labels" -}}
{{- $ctx := .context -}}
{{- $own := dict
  "helm.sh/chart" (include "ddcred.chart" $ctx)
  "app.kubernetes.io/name" (include "ddcred.name" $ctx)
  "app.kubernetes.io/instance" $ctx.Release.Name
  "app.kubernetes.io/component" .component
  "app.kubernetes.io/version" $ctx.Chart.AppVersion
  "app.kubernetes.io/managed-by" $ctx.Release.Service
  "app.kubernetes.io/part-of" "ddcred" -}}
{{- toYaml (merge $own (deepCopy (default (dict) .extra)) (deepCopy (default (dict) $ctx.Values.commonLabels))) -}}
{{- end -}}

{{/* Labels that select the operator pods (Deployment, Service, PDB, spread constraints). */}}
{{- define "ddcred.selectorLabels" -}}
app.kubernetes.io/name: {{ include "ddcred.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Images ---------------------------------------------------------------------- */}}

{{- define "ddcred.imageRef" -}}
{{- if .digest -}}
{{- printf "%s@%s" .repository .digest -}}
{{- else -}}
{{- printf "%s:%s" .repository .tag -}}
{{- end -}}
{{- end -}}

{{- define "ddcred.image" -}}
{{- $tag := default .Chart.AppVersion .Values.image.tag -}}
{{- include "ddcred.imageRef" (dict "repository" .Values.image.repository "tag" $tag "digest" .Values.image.digest) -}}
{{- end -}}

{{/* The agent runs from the operator image unless agent.image says otherwise. */}}
{{- define "ddcred.agentImage" -}}
{{- $agent := .Values.agent.image -}}
{{- if $agent.repository -}}
{{- include "ddcred.imageRef" (dict "repository" $agent.repository "tag" (default .Chart.AppVersion $agent.tag) "digest" $agent.digest) -}}
{{- else -}}
{{- $tag := default (default .Chart.AppVersion .Values.image.tag) $agent.tag -}}
{{- include "ddcred.imageRef" (dict "repository" .Values.image.repository "tag" $tag "digest" (default .Values.image.digest $agent.digest)) -}}
{{- end -}}
{{- end -}}

{{/* Webhook ----------------------------------------------------------------------- */}}

{{/* The host (DNS name or IP, without port or brackets) of webhook.url. */}}
{{- define "ddcred.webhookUrlHost" -}}
{{- $host := (urlParse .Values.webhook.url).host -}}
{{- if hasPrefix "[" $host -}}
{{- regexReplaceAll "^\\[([^\\]]+)\\](:[0-9]+)?$" $host "${1}" -}}
{{- else -}}
{{- regexReplaceAll ":[0-9]+$" $host "" -}}
{{- end -}}
{{- end -}}

{{/* Namespaces the webhook never sees: the system ones, this release's, and excludedNamespaces. */}}
{{- define "ddcred.excludedNamespaces" -}}
{{- $namespaces := list "kube-system" "kube-node-lease" "kube-public" .Release.Namespace -}}
{{- toJson (concat $namespaces .Values.webhook.excludedNamespaces | uniq) -}}
{{- end -}}

{{/* The rule files with this release's names in place of the placeholders. */}}
{{- define "ddcred.rules" -}}
{{- $rules := .context.Files.Get (printf "files/%s" .file) -}}
{{- if not $rules -}}
{{- fail (printf "files/%s is missing from the chart" .file) -}}
{{- end -}}
{{- /* The files' comments explain the rules to their readers; the objects need only the rules. */ -}}
{{- $rules = regexReplaceAll "(?m)^[ \t]*#.*\n" $rules "" -}}
{{- $rules = replace "__WEBHOOK_CONFIGURATION_NAME__" (include "ddcred.webhookConfigurationName" .context) $rules -}}
{{- $rules = replace "__LEASE_NAME__" (include "ddcred.leaseName" .context) $rules -}}
{{- $rules = replace "__TLS_SECRET_NAME__" (include "ddcred.tlsSecretName" .context) $rules -}}
{{- if regexMatch "__[A-Z_]+__" $rules -}}
{{- fail (printf "files/%s has a placeholder the chart does not fill: %s" .file (regexFind "__[A-Z_]+__" $rules)) -}}
{{- end -}}
{{- $rules -}}
{{- end -}}
