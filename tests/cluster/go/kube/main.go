// Command kube is a multi-call binary holding the Kubernetes components Dromos
// tests need: the three control plane components, kubectl and the kubelet of
// the real nodes. One binary links once and shares every compiled package,
// which halves the cold build on a 2-core machine.
//
// Usage: kube apiserver|controller-manager|scheduler|kubectl|kubelet [flags...]
// or invoke through a symlink named kube-apiserver, kube-controller-manager,
// kube-scheduler, kubectl or kubelet.
package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"k8s.io/component-base/cli"
	kubectl "k8s.io/kubectl/pkg/cmd"
	kubectlutil "k8s.io/kubectl/pkg/cmd/util"
	apiserver "k8s.io/kubernetes/cmd/kube-apiserver/app"
	kcm "k8s.io/kubernetes/cmd/kube-controller-manager/app"
	scheduler "k8s.io/kubernetes/cmd/kube-scheduler/app"
	kubelet "k8s.io/kubernetes/cmd/kubelet/app"
)

func main() {
	name := strings.TrimPrefix(filepath.Base(os.Args[0]), "kube-")
	args := os.Args[1:]
	if name == "kube" {
		if len(args) == 0 {
			fmt.Fprintln(os.Stderr, "usage: kube apiserver|controller-manager|scheduler|kubectl|kubelet [flags...]")
			os.Exit(2)
		}
		name, args = strings.TrimPrefix(args[0], "kube-"), args[1:]
	}
	var cmd *cobra.Command
	switch name {
	case "apiserver":
		cmd = apiserver.NewAPIServerCommand()
	case "controller-manager":
		cmd = kcm.NewControllerManagerCommand()
	case "scheduler":
		cmd = scheduler.NewSchedulerCommand()
	case "kubelet", "let":
		cmd = kubelet.NewKubeletCommand(context.Background())
	case "kubectl", "ctl":
		// kubectl reads os.Args itself (plugins, .kuberc), so present it the
		// arguments it would see as a standalone binary.
		os.Args = append([]string{"kubectl"}, args...)
		if err := cli.RunNoErrOutput(kubectl.NewDefaultKubectlCommand()); err != nil {
			kubectlutil.CheckErr(err)
		}
		os.Exit(0)
	default:
		fmt.Fprintf(os.Stderr, "unknown component %q\n", name)
		os.Exit(2)
	}
	cmd.SetArgs(args)
	os.Exit(cli.Run(cmd))
}
