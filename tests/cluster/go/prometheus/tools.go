//go:build tools

// Package tools records Prometheus and promtool as dependencies of this module so
// `go build github.com/prometheus/prometheus/cmd/...` resolves against the pinned go.sum.
// The alerting tests (tests/tests/alerts.rs) load the chart's rules into them.
package tools

import (
	_ "github.com/prometheus/prometheus/cmd/prometheus"
	_ "github.com/prometheus/prometheus/cmd/promtool"
)
