"""Reproducible OCI image archives from files on this machine, with no container engine.

Used by image/build (the Dromos image) and tests/images/build (the real-node test images).
Files, owners, modes and times are fixed (mtime 0), tar entries sorted and gzip written without
a timestamp, so the same inputs give the same digests on every machine. An archive is an OCI
image layout in one tar: `ctr images import`, `skopeo copy oci-archive:FILE:NAME ...` and
`podman load` read it.
"""

import gzip
import hashlib
import io
import json
import subprocess
import tarfile


def shared_objects(binary):
    """The shared objects `ldd` says BINARY loads (its loader included), as absolute paths."""
    out = subprocess.run(["ldd", binary], capture_output=True, text=True, check=True).stdout
    paths = []
    for line in out.splitlines():
        parts = line.split()
        if "=>" in parts and parts[parts.index("=>") + 1].startswith("/"):
            paths.append(parts[parts.index("=>") + 1])
        elif parts and parts[0].startswith("/"):
            paths.append(parts[0])
    return sorted(set(paths))


class Layer:
    """A tar layer with fixed metadata; entries are written in sorted order."""

    def __init__(self):
        self.entries = {}

    def dir(self, path, mode=0o755, owner=0):
        self.entries[path] = ("dir", mode, None, owner)

    def dirs(self, path):
        """Every parent directory of the file PATH."""
        parts = path.split("/")
        for i in range(1, len(parts)):
            self.entries.setdefault("/".join(parts[:i]), ("dir", 0o755, None, 0))

    def file(self, path, data, mode=0o644, owner=0):
        self.entries[path] = ("file", mode, data if isinstance(data, bytes) else data.encode(), owner)

    def copy(self, source, path=None, mode=0o755):
        """The file SOURCE of this machine at PATH (default: the same path), parents included."""
        rel = (path or source).lstrip("/")
        self.dirs(rel)
        with open(source, "rb") as f:
            self.file(rel, f.read(), mode)

    def symlink(self, path, target):
        self.entries[path] = ("symlink", 0o777, target, 0)

    def tar(self):
        buf = io.BytesIO()
        with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
            for path in sorted(self.entries):
                kind, mode, data, owner = self.entries[path]
                info = tarfile.TarInfo(path)
                info.mtime, info.uid, info.gid, info.uname, info.gname, info.mode = 0, owner, owner, "", "", mode
                if kind == "dir":
                    info.type = tarfile.DIRTYPE
                    t.addfile(info)
                elif kind == "symlink":
                    info.type, info.linkname = tarfile.SYMTYPE, data
                    t.addfile(info)
                else:
                    info.size = len(data)
                    t.addfile(info, io.BytesIO(data))
        return buf.getvalue()


class Archive:
    """An OCI image layout, written as one tar."""

    def __init__(self):
        self.blobs = {}
        self.manifests = []

    def blob(self, data, media_type):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        self.blobs[digest] = data
        return {"mediaType": media_type, "digest": digest, "size": len(data)}

    def image(self, name, layers, entrypoint, cmd=None, path="/bin", env=(), user=None, labels=None,
              ports=(), created_by="tests/images/build", level=9):
        """Adds the image NAME (`registry/repository:tag`) made of LAYERS (uncompressed tars,
        gzipped here at LEVEL)."""
        descs, diff_ids = [], []
        for raw in layers:
            diff_ids.append("sha256:" + hashlib.sha256(raw).hexdigest())
            gz = gzip.compress(raw, compresslevel=level, mtime=0)
            descs.append(self.blob(gz, "application/vnd.oci.image.layer.v1.tar+gzip"))
        cfg = {"Entrypoint": entrypoint, "Env": [f"PATH={path}", *env], "WorkingDir": "/"}
        if cmd is not None:
            cfg["Cmd"] = cmd
        if user is not None:
            cfg["User"] = user
        if labels:
            cfg["Labels"] = labels
        if ports:
            cfg["ExposedPorts"] = {p: {} for p in ports}
        config = {
            "created": "1970-01-01T00:00:00Z",
            "architecture": "amd64",
            "os": "linux",
            "config": cfg,
            "rootfs": {"type": "layers", "diff_ids": diff_ids},
            "history": [{"created": "1970-01-01T00:00:00Z", "created_by": created_by} for _ in layers],
        }
        cfg = self.blob(canonical(config), "application/vnd.oci.image.config.v1+json")
        manifest = {
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": cfg,
            "layers": descs,
        }
        desc = self.blob(canonical(manifest), "application/vnd.oci.image.manifest.v1+json")
        desc["annotations"] = {"io.containerd.image.name": name, "org.opencontainers.image.ref.name": name.split(":")[-1]}
        desc["platform"] = {"architecture": "amd64", "os": "linux"}
        self.manifests.append(desc)

    def tar(self):
        index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": self.manifests}
        files = {"oci-layout": canonical({"imageLayoutVersion": "1.0.0"}), "index.json": canonical(index)}
        for digest, data in self.blobs.items():
            files["blobs/sha256/" + digest.split(":")[1]] = data
        layer = Layer()
        layer.dir("blobs")
        layer.dir("blobs/sha256")
        for path, data in files.items():
            layer.file(path, data)
        return layer.tar()


def canonical(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


