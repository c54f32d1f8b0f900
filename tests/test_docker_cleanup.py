"""Removing, pruning, starting and stopping Docker objects, and disk usage, on a real engine.

Every test builds its own images FROM scratch (a unique file first, so no layer is shared
with another test's images) and labels everything with a token of its own; the finalizer
removes what carries that label. Other tests use the same engine at the same time, so
prune is only ever executed on this test's own images and usage is checked through
relationships that other objects cannot break.
"""

from __future__ import annotations

import contextlib
import io
import os
import tarfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from envtui.cleanup import Refused, Removal
from envtui.cleanup.docker_cleanup import (
    DockerActionError,
    docker_usage,
    execute_docker_removal,
    execute_prune,
    freed_bytes,
    layer_sizes,
    plan_docker_removal,
    plan_prune,
    start_container,
    stop_container,
)
from envtui.model import Environment, EnvKind
from tests.docker_fixtures import (  # noqa: F401 - the *_fixture names register fixtures
    docker_client_fixture,
    static_busybox,
)

pytestmark = pytest.mark.docker


@dataclass
class Lab:
    """One test's corner of the engine: a label, a name prefix and what was made."""

    api: Any
    token: str
    images: list[str] = field(default_factory=list)

    @property
    def prefix(self) -> str:
        return f"envtui-test-clean-{self.token}"

    def build(self, files: dict[str, bytes], steps: str, tag: str | None = None,
              base: str = "scratch") -> str:
        """An image FROM `base`: a unique marker file first, then `steps`; its ID."""
        files = {"marker": f"{self.token} {uuid.uuid4().hex}\n".encode(), **files}
        dockerfile = f"FROM {base}\nCOPY marker /marker-{uuid.uuid4().hex[:6]}\n{steps}"
        context = _tar({**files, "Dockerfile": dockerfile.encode()})
        out = list(self.api.build(fileobj=context, custom_context=True, tag=tag, rm=True,
                                  forcerm=True, network_mode="none", decode=True,
                                  labels={"envtui-test": self.token}))
        ids = [o["aux"]["ID"] for o in out if "aux" in o]
        assert ids, out
        self.images.append(ids[-1])
        return str(ids[-1])

    def busybox_image(self, tag: str | None = None) -> str:
        return self.build({"busybox": static_busybox().read_bytes()},
                          "COPY busybox /bin/busybox\n", tag)

    def container(self, image: str, role: str, *command: str) -> str:
        c = self.api.create_container(
            image, command=list(command) or ["/bin/busybox", "true"], name=f"{self.prefix}-{role}",
            labels={"envtui-test": self.token},
            host_config=self.api.create_host_config(network_mode="none"))
        return str(c["Id"])

    def exited(self, image: str, role: str) -> str:
        cid = self.container(image, role)
        self.api.start(cid)
        assert self.api.wait(cid, timeout=60)["StatusCode"] == 0
        return cid

    def running(self, image: str, role: str) -> str:
        cid = self.container(image, role, "/bin/busybox", "sleep", "300")
        self.api.start(cid)
        return cid

    def state(self, cid: str) -> str:
        return str(self.api.inspect_container(cid)["State"]["Status"])

    def exists(self, image_id: str) -> bool:
        import docker.errors

        try:
            self.api.inspect_image(image_id)
        except docker.errors.NotFound:
            return False
        return True

    def cleanup(self) -> None:
        flt = {"label": f"envtui-test={self.token}"}
        for c in self.api.containers(all=True, filters=flt):
            self.api.remove_container(c["Id"], force=True)
        left = set(self.images) | {i["Id"] for i in self.api.images(all=True, filters=flt)}
        for _ in range(5):  # children before parents: the engine keeps a parent until then
            left = {i for i in left if self.exists(i)}
            for image_id in sorted(left, key=self._created, reverse=True):
                with contextlib.suppress(Exception):
                    self.api.remove_image(image_id, force=True)
        for image_id in left:
            if self.exists(image_id):
                print(f"could not remove image {image_id}")

    def _created(self, image_id: str) -> str:
        try:
            return str(self.api.inspect_image(image_id)["Created"])
        except Exception:
            return ""


def _tar(files: dict[str, bytes]) -> io.BytesIO:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tf:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size, info.mode = len(data), 0o755
            tf.addfile(info, io.BytesIO(data))
    buf.seek(0)
    return buf


@pytest.fixture
def lab(docker_client: Any) -> Iterator[Lab]:
    made = Lab(api=docker_client.api, token=uuid.uuid4().hex[:10])
    try:
        yield made
    finally:
        made.cleanup()


def image_env(lab: Lab, image_id: str) -> Environment:
    tags = sorted(lab.api.inspect_image(image_id)["RepoTags"] or [])
    return Environment(kind=EnvKind.IMAGE, name=tags[0] if tags else image_id[7:19],
                       manager="docker", id=image_id, details={"tags": tags})


def container_env(lab: Lab, cid: str) -> Environment:
    name = str(lab.api.inspect_container(cid)["Name"]).lstrip("/")
    return Environment(kind=EnvKind.CONTAINER, name=name, manager="docker", id=cid)


# --- images in use -----------------------------------------------------------------------


def test_image_in_use_is_refused_with_its_containers_and_force_removes_it(lab: Lab) -> None:
    tag = f"{lab.prefix}/used:1"
    image = lab.busybox_image(tag)
    stopped = lab.exited(image, "stopped")
    running = lab.running(image, "running")
    env = image_env(lab, image)

    with pytest.raises(Refused) as refused:
        plan_docker_removal(lab.api, env)
    message = str(refused.value)
    assert message.startswith(f"image:{tag} is used by containers ")
    assert f"{lab.prefix}-running (running)" in message
    assert f"{lab.prefix}-stopped (exited)" in message
    assert "\n" not in message
    # The engine will not remove an image a running container uses, even forced: say so now.
    with pytest.raises(Refused, match=f"running container {lab.prefix}-running; stop it"):
        plan_docker_removal(lab.api, env, force=True)

    stop_container(lab.api, running, timeout=1)
    with pytest.raises(Refused, match=r"\(exited\).*; --force removes it anyway$"):
        plan_docker_removal(lab.api, env)
    removal = plan_docker_removal(lab.api, env, force=True)
    assert (removal.kind, removal.target, removal.marker, removal.force) == (
        EnvKind.IMAGE, image, "docker image", True)
    assert removal.size_bytes == lab.api.inspect_image(image)["Size"] > 0
    assert f"{lab.prefix}-running (exited)" in removal.notes[0]
    assert f"{lab.prefix}-stopped (exited)" in removal.notes[0]

    execute_docker_removal(lab.api, removal)
    assert not lab.exists(image)
    assert lab.state(stopped) == lab.state(running) == "exited"  # the containers stay


def test_a_container_created_after_the_plan_stops_the_removal(lab: Lab) -> None:
    tag = f"{lab.prefix}/late:1"
    image = lab.build({"f": b"late"}, "COPY f /f\n", tag)
    lab.api.tag(image, f"{lab.prefix}/late", "other")
    removal = plan_docker_removal(lab.api, image_env(lab, image))
    assert removal.force is False
    assert removal.notes == (f"removes every tag: {tag}, {lab.prefix}/late:other",)

    lab.container(image, "late", "/f")
    with pytest.raises(Refused, match=f"is used by container {lab.prefix}-late \\(created\\)"):
        execute_docker_removal(lab.api, removal)
    assert lab.api.inspect_image(image)["RepoTags"]  # nothing was touched, tags included

    lab.api.remove_container(f"{lab.prefix}-late")
    execute_docker_removal(lab.api, removal)  # unused again: both tags and the image go
    assert not lab.exists(image)


def test_an_image_with_a_child_image_is_refused(lab: Lab) -> None:
    base_tag = f"{lab.prefix}/base:1"
    base = lab.build({"f": b"base"}, "COPY f /f\n", base_tag)
    lab.build({"g": b"child"}, "COPY g /g\n", f"{lab.prefix}/child:1", base=base_tag)
    with pytest.raises(Refused, match=f"dependent child image {lab.prefix}/child:1; remove"):
        plan_docker_removal(lab.api, image_env(lab, base), force=True)
    assert lab.exists(base)


# --- containers ------------------------------------------------------------------------


def test_start_stop_and_removal_of_a_running_container(lab: Lab) -> None:
    cid = lab.container(lab.busybox_image(), "box", "/bin/busybox", "sleep", "300")
    assert lab.state(cid) == "created"
    start_container(lab.api, cid)
    assert lab.state(cid) == "running"
    env = container_env(lab, cid)
    with pytest.raises(Refused) as refused:
        plan_docker_removal(lab.api, env)
    assert str(refused.value) == (
        f"container:{lab.prefix}-box is running; stop it first or --force")

    stop_container(lab.api, cid, timeout=1)
    assert lab.state(cid) == "exited"
    removal = plan_docker_removal(lab.api, env)
    assert (removal.kind, removal.target, removal.marker) == (
        EnvKind.CONTAINER, cid, "docker container")
    assert removal.size_bytes is not None and removal.size_bytes >= 0

    start_container(lab.api, cid)  # running again after the plan: execution re-checks
    with pytest.raises(Refused, match="is running now; stop it first or --force"):
        execute_docker_removal(lab.api, removal)
    assert lab.state(cid) == "running"

    forced = plan_docker_removal(lab.api, env, force=True)
    assert any("kills it" in n for n in forced.notes)
    execute_docker_removal(lab.api, forced)
    assert not lab.api.containers(all=True, filters={"id": cid})


# --- prune -----------------------------------------------------------------------------


def test_prune_removes_only_dangling_unused_images_and_rechecks(lab: Lab) -> None:
    loose = lab.build({"f": b"loose"}, "COPY f /f\n")
    held = lab.build({"f": b"held"}, "COPY f /f\n")
    lab.container(held, "held", "/f")
    late = lab.build({"f": b"late"}, "COPY f /f\n")
    named = lab.build({"f": b"named"}, "COPY f /f\n", f"{lab.prefix}/named:1")
    retagged = lab.build({"f": b"retagged"}, "COPY f /f\n")
    mine = {loose, held, late, named, retagged}

    plan = [r for r in plan_prune(lab.api) if r.target in mine]
    assert {r.target for r in plan} == {loose, late, retagged}
    assert all(r.kind is EnvKind.IMAGE and r.marker == "docker image" for r in plan)
    assert all(r.size_bytes and r.size_bytes > 0 for r in plan)

    assert execute_prune(lab.api, plan, cancelled=lambda: True) == []
    assert all(lab.exists(i) for i in mine)

    lab.container(late, "late", "/f")  # between plan and execution
    lab.api.tag(retagged, f"{lab.prefix}/retagged", "1")
    skipped: list[tuple[str, str]] = []
    removed = execute_prune(lab.api, plan, on_skip=lambda r, why: skipped.append((r.target, why)))
    assert removed == [loose]
    assert not lab.exists(loose)
    assert all(lab.exists(i) for i in mine - {loose})
    reasons = dict(skipped)
    assert set(reasons) == {late, retagged}
    assert f"now used by container {lab.prefix}-late (created)" in reasons[late]
    assert f"was tagged {lab.prefix}/retagged:1" in reasons[retagged]


# --- disk usage ------------------------------------------------------------------------


def test_usage_counts_this_tests_objects_as_the_engine_sizes_them(lab: Lab) -> None:
    unused = lab.build({"blob": os.urandom(300_000)}, "COPY blob /blob\n", f"{lab.prefix}/u:1")
    dangling = lab.build({"blob": os.urandom(200_000)}, "COPY blob /blob\n")
    used = lab.busybox_image(f"{lab.prefix}/used:1")
    stopped = lab.exited(used, "stopped")
    lab.api.put_archive(stopped, "/", _tar({"scratch-file": os.urandom(50_000)}).getvalue())
    sizes = {i["Id"]: i for i in lab.api.df()["Images"]}
    rw = {c["Id"]: c.get("SizeRw", 0) for c in lab.api.df()["Containers"]}

    usage = docker_usage(lab.api)
    img, ctr = usage.images, usage.containers
    assert img.total >= 3 and img.active >= 1 and usage.unused_images >= 2
    assert usage.dangling_images >= 1 and usage.stopped_containers >= 1
    # Nothing shares a layer with these images: removing them frees their whole size.
    assert sizes[unused]["SharedSize"] == sizes[dangling]["SharedSize"] == 0
    assert img.reclaimable_bytes >= sizes[unused]["Size"] + sizes[dangling]["Size"]
    assert usage.dangling_bytes >= sizes[dangling]["Size"]
    assert img.size_bytes >= img.reclaimable_bytes + sizes[used]["Size"]
    assert ctr.total >= 1 and rw[stopped] >= 50_000
    assert ctr.size_bytes >= ctr.reclaimable_bytes >= rw[stopped]


def test_freed_bytes_counts_a_shared_layer_once_and_only_when_all_its_images_go(
        lab: Lab) -> None:
    base_tag = f"{lab.prefix}/base:1"
    base = lab.build({"blob": os.urandom(100_000)}, "COPY blob /blob\n", base_tag)
    child = lab.build({"more": os.urandom(40_000)}, "COPY more /more\n",
                      f"{lab.prefix}/child:1", base=base_tag)
    sizes = {i["Id"]: i for i in lab.api.df()["Images"]}
    base_size, child_size = sizes[base]["Size"], sizes[child]["Size"]
    assert sizes[base]["SharedSize"] == base_size > 100_000  # all of base is in child too
    assert child_size > base_size + 40_000

    assert freed_bytes(lab.api, [base]) == 0  # the child keeps every layer of base
    assert freed_bytes(lab.api, [child]) == child_size - base_size
    assert freed_bytes(lab.api, [base, child]) == child_size  # shared layers counted once



def test_usage_leaves_out_layers_an_image_in_use_shares(lab: Lab) -> None:
    base_tag = f"{lab.prefix}/base:1"
    base = lab.build({"blob": os.urandom(100_000)}, "COPY blob /blob\n", base_tag)
    child = lab.build({"more": os.urandom(40_000)}, "COPY more /more\n",
                      f"{lab.prefix}/child:1", base=base_tag)
    lab.container(child, "user", "/more")

    def own_usage() -> tuple[Any, dict[str, Any]]:
        # A real df answer, narrowed to this test's objects so others' cannot move the sums.
        df = lab.api.df()
        images = [i for i in df["Images"] if i["Id"] in (base, child)]
        containers = [c for c in df["Containers"]
                      if (c.get("Labels") or {}).get("envtui-test") == lab.token]
        own = {**df, "Images": images, "Containers": containers}
        return docker_usage(lab.api, df=own), {i["Id"]: i for i in images}

    usage, sizes = own_usage()
    assert (usage.images.total, usage.images.active, usage.unused_images) == (2, 1, 1)
    assert usage.images.reclaimable_bytes == 0  # base is unused, but the child holds it all
    assert (usage.containers.total, usage.containers.active, usage.stopped_containers) == (
        1, 0, 1)
    assert usage.exact

    lab.api.remove_container(f"{lab.prefix}-user")
    usage, sizes = own_usage()
    assert usage.unused_images == 2 and usage.containers.total == 0
    assert usage.images.reclaimable_bytes == sizes[child]["Size"]  # shared layers once
    assert usage.dangling_images == usage.dangling_bytes == 0


def test_layer_sizes_place_sized_entries_and_admit_ambiguity() -> None:
    assert layer_sizes([5, 0, 7, 0], 2) == [5, 7]  # LABEL/CMD entries: no layer
    assert layer_sizes([5, 0, 7], 3) == [5, 0, 7]  # a layer that added nothing
    assert layer_sizes([0, 5, 0], 2) == [None, None]  # 5 is the first layer or the second
    assert layer_sizes([5], 2) == [None, None]  # history and layers disagree


# --- engine errors ---------------------------------------------------------------------


def test_engine_errors_carry_the_engines_own_message(lab: Lab) -> None:
    import docker.errors

    ghost = f"{lab.prefix}-no-such-container"
    with pytest.raises(docker.errors.NotFound) as direct:
        lab.api.start(ghost)
    with pytest.raises(DockerActionError) as ours:
        start_container(lab.api, ghost)
    assert str(ours.value) == direct.value.explanation
    assert ours.value.status == 404

    # The engine cannot run a command that is not in the image: its reason comes through.
    cid = lab.container(lab.build({"f": b"x"}, "COPY f /f\n"), "broken", "/missing-binary")
    with pytest.raises(DockerActionError, match="missing-binary") as failed:
        start_container(lab.api, cid)
    assert "\n" not in str(failed.value) and failed.value.status is not None

    gone = Removal(ref="image:gone", kind=EnvKind.IMAGE, target="sha256:" + "0" * 64,
                   size_bytes=None, marker="docker image")
    with pytest.raises(DockerActionError, match="No such image") as missing:
        execute_docker_removal(lab.api, gone)
    assert missing.value.status == 404
