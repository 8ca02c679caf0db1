//go:build tools

// Package tools records the Helm command as a dependency of this module so
// `go build helm.sh/helm/v3/cmd/helm` resolves against the pinned go.sum.
package tools

import _ "helm.sh/helm/v3/cmd/helm"
