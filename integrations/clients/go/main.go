// Command dromos-status prints the Apps and service plans of a namespace, read from the
// Kubernetes API with client-go's dynamic client.
//
//	go run . -n shop         # a table of Apps, a tree per Package plan
//	go run . -n shop -json   # the same as one JSON document
//
// Dromos keeps everything an operator looks at in the objects' status, so a client needs no
// Dromos library: it lists the custom objects of group dromos.io, version v1alpha1, and
// decodes the fields that `dromos schema App` and `dromos schema Package` describe into its
// own structs.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"sort"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"
)

var (
	apps     = schema.GroupVersionResource{Group: "dromos.io", Version: "v1alpha1", Resource: "apps"}
	packages = schema.GroupVersionResource{Group: "dromos.io", Version: "v1alpha1", Resource: "packages"}
)

// The parts of the objects this client reads; json tags are the field names of the CRDs.
// Fields the operator has not written yet decode as zero values.

type appStatus struct {
	State     string `json:"state"`
	Instances int64  `json:"instances"`
	Running   int64  `json:"running"`
	Healthy   int64  `json:"healthy"`
	Unhealthy int64  `json:"unhealthy"`
	Staged    int64  `json:"staged"`
}

type step struct {
	Name    string `json:"name"`
	Pod     string `json:"pod"`
	Index   int64  `json:"index"`
	Status  string `json:"status"`
	Action  string `json:"action"`
	Message string `json:"message"`
}

type phase struct {
	Name     string `json:"name"`
	Status   string `json:"status"`
	Strategy string `json:"strategy"`
	Steps    []step `json:"steps"`
}

type plan struct {
	Name    string  `json:"name"`
	Status  string  `json:"status"`
	Paused  bool    `json:"paused"`
	Message string  `json:"message"`
	Phases  []phase `json:"phases"`
}

type packageStatus struct {
	InstalledVersion string `json:"installedVersion"`
	Plans            []plan `json:"plans"`
}

// The document printed with -json: the same as the Python example's.

type appSummary struct {
	Name string `json:"name"`
	appStatus
}

type packageSummary struct {
	Name    string `json:"name"`
	Package string `json:"package"`
	packageStatus
}

type document struct {
	Namespace string           `json:"namespace"`
	Apps      []appSummary     `json:"apps"`
	Packages  []packageSummary `json:"packages"`
}

// list returns the namespace's objects of one resource, sorted by name.
func list(ctx context.Context, c dynamic.Interface, gvr schema.GroupVersionResource, ns string) ([]unstructured.Unstructured, error) {
	l, err := c.Resource(gvr).Namespace(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list %s in %s: %w", gvr.Resource, ns, err)
	}
	sort.Slice(l.Items, func(i, j int) bool { return l.Items[i].GetName() < l.Items[j].GetName() })
	return l.Items, nil
}

// decode converts the map at path (e.g. "status") of an object into out.
func decode(o unstructured.Unstructured, out any, path ...string) error {
	m, _, err := unstructured.NestedMap(o.Object, path...)
	if err != nil {
		return fmt.Errorf("%s: %w", o.GetName(), err)
	}
	return runtime.DefaultUnstructuredConverter.FromUnstructured(m, out)
}

func read(ctx context.Context, c dynamic.Interface, ns string) (document, error) {
	doc := document{Namespace: ns, Apps: []appSummary{}, Packages: []packageSummary{}}
	items, err := list(ctx, c, apps, ns)
	if err != nil {
		return doc, err
	}
	for _, o := range items {
		a := appSummary{Name: o.GetName()}
		if err := decode(o, &a.appStatus, "status"); err != nil {
			return doc, err
		}
		doc.Apps = append(doc.Apps, a)
	}
	if items, err = list(ctx, c, packages, ns); err != nil {
		return doc, err
	}
	for _, o := range items {
		p := packageSummary{Name: o.GetName()}
		p.Package, _, _ = unstructured.NestedString(o.Object, "spec", "name")
		if err := decode(o, &p.packageStatus, "status"); err != nil {
			return doc, err
		}
		if p.Plans == nil { // a Package without a service specification
			p.Plans = []plan{}
		}
		doc.Packages = append(doc.Packages, p)
	}
	return doc, nil
}

// printTree draws a plan as `dromos service plan show` does.
func printTree(p plan) {
	paused := ""
	if p.Paused {
		paused = " paused"
	}
	fmt.Printf("%s (%s)%s\n", p.Name, p.Status, paused)
	for i, ph := range p.Phases {
		last := i+1 == len(p.Phases)
		branch, indent := "├─", "│  "
		if last {
			branch, indent = "└─", "   "
		}
		fmt.Printf("%s %s (%s strategy) (%s)\n", branch, ph.Name, ph.Strategy, ph.Status)
		for j, s := range ph.Steps {
			b := "├─"
			if j+1 == len(ph.Steps) {
				b = "└─"
			}
			note := ""
			if s.Message != "" {
				note = ": " + s.Message
			}
			fmt.Printf("%s%s %s (%s)%s\n", indent, b, s.Name, s.Status, note)
		}
	}
	if p.Message != "" {
		fmt.Println(p.Message)
	}
}

func printText(doc document) {
	fmt.Printf("%-24s %-10s %9s %9s %9s %9s %9s\n", "APP", "STATE", "INSTANCES", "RUNNING", "HEALTHY", "UNHEALTHY", "STAGED")
	for _, a := range doc.Apps {
		fmt.Printf("%-24s %-10s %9d %9d %9d %9d %9d\n", a.Name, a.State, a.Instances, a.Running, a.Healthy, a.Unhealthy, a.Staged)
	}
	for _, p := range doc.Packages {
		version := p.InstalledVersion
		if version == "" {
			version = "not installed"
		}
		fmt.Printf("\npackage %s (%s %s)\n", p.Name, p.Package, version)
		for _, pl := range p.Plans {
			printTree(pl)
		}
	}
}

func main() {
	namespace := flag.String("n", "", "namespace (default: the kubeconfig context's)")
	asJSON := flag.Bool("json", false, "print one JSON document")
	flag.Parse()

	// KUBECONFIG or ~/.kube/config; inside a pod, its service account.
	cfg := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(
		clientcmd.NewDefaultClientConfigLoadingRules(), &clientcmd.ConfigOverrides{})
	ns := *namespace
	if ns == "" {
		var err error
		if ns, _, err = cfg.Namespace(); err != nil {
			fail(err)
		}
	}
	rc, err := cfg.ClientConfig()
	if err != nil {
		fail(err)
	}
	c, err := dynamic.NewForConfig(rc)
	if err != nil {
		fail(err)
	}
	doc, err := read(context.Background(), c, ns)
	if err != nil {
		fail(err)
	}
	if *asJSON {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		if err := enc.Encode(doc); err != nil {
			fail(err)
		}
		return
	}
	printText(doc)
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "dromos-status:", err)
	os.Exit(1)
}
