//go:build tools

// Package tools records the KWOK command as a dependency of this module so
// `go build sigs.k8s.io/kwok/cmd/kwok` resolves against the pinned go.sum.
package tools

import _ "sigs.k8s.io/kwok/cmd/kwok"
