//go:build tools

// Package tools records Flux's source-controller as a dependency of this module so
// `go build github.com/fluxcd/source-controller` resolves against the pinned go.sum.
package tools

import (
	_ "github.com/fluxcd/source-controller"
)
