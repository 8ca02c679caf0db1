//! Why Marathon fields the App kind lacks are not carried, and what to do instead (pure data).

use crate::import::{Effect, Reason, reason as r};

/// Fields of Marathon apps and pods that the App kind does not have, and what to do.
pub(super) const REASONS: &[Reason] = &[
    r(
        "executor",
        Effect::Dropped,
        "custom Mesos executors do not exist on Kubernetes",
        "run what the executor did inside the container, or as a sidecar",
    ),
    r(
        "tty",
        Effect::Dropped,
        "the App kind has no terminal setting",
        "programs that need a TTY need a patch on the rendered container (`tty: true`)",
    ),
    r(
        "check",
        Effect::Dropped,
        "Mesos checks (which report but never kill) have no App field",
        "use a readiness check, or a health check with maxConsecutiveFailures 0",
    ),
    r(
        "container.docker.credential",
        Effect::Dropped,
        "Mesos registry credentials have no App field",
        "create a docker-registry Secret and name it in container.docker.pullConfig.secret",
    ),
    r(
        "container.appc",
        Effect::Dropped,
        "AppC images are not run by Kubernetes",
        "publish the image as an OCI/Docker image and set container.docker.image",
    ),
    r(
        "container.linuxInfo",
        Effect::Dropped,
        "Mesos Linux capabilities, seccomp and IPC settings have no App field",
        "set a securityContext with a patch on the rendered workload",
    ),
    r(
        "container.docker.network",
        Effect::Dropped,
        "unknown Docker network mode",
        "set `networks` (host, container or container/bridge)",
    ),
    r(
        "container.volumes.persistent.constraints",
        Effect::Dropped,
        "constraints on which Mesos disk holds a persistent volume have no equivalent",
        "pick the disk through a StorageClass and set persistent.storageClass",
    ),
    r(
        "container.volumes.persistent.profileName",
        Effect::Dropped,
        "DC/OS storage profiles are not Kubernetes objects",
        "set persistent.storageClass to the StorageClass that matches the profile",
    ),
    r(
        "residency",
        Effect::Approximated,
        "a StatefulSet pod keeps its volume claim and Kubernetes decides when it moves; Marathon's relaunch escalation and task-lost behaviour have no equivalent",
        "use a storage class with WaitForFirstConsumer binding and check the StatefulSet's behaviour on node loss",
    ),
    r(
        "ipAddress.groups",
        Effect::Dropped,
        "Mesos network security groups have no App field",
        "write a NetworkPolicy for the namespace",
    ),
    r(
        "ipAddress.discovery",
        Effect::Dropped,
        "discovery information beyond port numbers, names and protocols has no App field",
        "check the generated container.portMappings",
    ),
    r("container.portMappings.networkNames", Effect::Note, "port mappings apply to the pod's one network", "nothing"),
    r(
        "scaling.maxInstances",
        Effect::Dropped,
        "the App kind has no upper bound for scaling",
        "add a HorizontalPodAutoscaler with maxReplicas if something scales the App",
    ),
    r("scaling.kind", Effect::Dropped, "only fixed scaling exists", "set `instances`"),
    r(
        "executorResources",
        Effect::Note,
        "resources of the Mesos executor: Kubernetes runs no executor per pod",
        "nothing; the containers' resources are carried",
    ),
    r("legacySharedCgroups", Effect::Note, "Mesos cgroup layout; Kubernetes limits each container", "nothing"),
    r(
        "containers.image.pullConfig",
        Effect::Dropped,
        "pod containers have no registry credential field",
        "add an imagePullSecret to the namespace's default ServiceAccount",
    ),
    r(
        "containers.image.kind",
        Effect::Note,
        "images are pulled by the container runtime whatever their kind",
        "nothing",
    ),
    r(
        "containers.exec.overrideEntrypoint",
        Effect::Note,
        "a shell command always replaces the entrypoint, argv is passed as the command",
        "check the rendered container's command and args",
    ),
    r("containers.endpoints.networkNames", Effect::Note, "endpoints apply to the pod's one network", "nothing"),
    r(
        "containers.lifecycle",
        Effect::Dropped,
        "container lifecycle settings other than killGracePeriodSeconds have no App field",
        "set them with a patch on the rendered workload",
    ),
    r(
        "containers.tty",
        Effect::Dropped,
        "the App kind has no terminal setting",
        "programs that need a TTY need a patch on the rendered container (`tty: true`)",
    ),
    r(
        "containers.check",
        Effect::Dropped,
        "Mesos checks (which report but never kill) have no App field",
        "use a health check with maxConsecutiveFailures 0, or a readiness probe",
    ),
    r(
        "group",
        Effect::Dropped,
        "groups are not Dromos objects: their apps, pods and dependencies are imported, other group fields are not",
        "nothing, unless the field mattered to a tool around Marathon",
    ),
];
