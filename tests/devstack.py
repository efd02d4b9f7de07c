"""`make dev` as a newcomer runs it: in a copy of this working tree, ports moved only through
the `MVQ_*_PORT` variables, stopped with Ctrl-C to the whole process group as a terminal sends
it. Nothing here passes the runner a path or a server of the test harness's own."""

import contextlib
import os
import re
import shutil
import signal
import subprocess
from dataclasses import dataclass
from pathlib import Path

import httpx

from deploy import servers
from testkit import harness

WEED_PORTS = ("S3", "WEED_MASTER", "WEED_VOLUME", "WEED_FILER", "WEED_WEBDAV", "WEED_ADMIN")


def clone_working_tree(dest: Path) -> Path:
    """Every file git tracks or would track (committed or not), and nothing it ignores: no
    `.venv`, no `.data`. Modification times are kept, as a clone's checkout sets them anew."""
    listed = subprocess.run(
        ["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
        cwd=harness.ROOT, capture_output=True, check=True,
    ).stdout.decode()  # fmt: skip
    for name in filter(None, listed.split("\0")):
        source = harness.ROOT / name
        if source.is_file():  # a tracked file deleted in the working tree is not there
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, dest / name)
    return dest


def forget_data(clone: Path) -> None:
    """As if `make dev` had never run there (the venv stays)."""
    shutil.rmtree(clone / ".data", ignore_errors=True)


def port_env() -> dict[str, str]:
    """This machine's environment without any MVQ_ setting of the test run's, and every port
    of the stack moved to a free one."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("MVQ_")}
    # Nor the make that runs `make test`: a newcomer's `make dev` is a terminal's, not a
    # sub-make (which would print "make[1]: Leaving directory" after the runner's last line).
    for name in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME", "MAKELEVEL", "MAKEFLAGS", "MFLAGS",
                 "MAKEOVERRIDES"):  # fmt: skip
        env.pop(name, None)
    env["MVQ_PORT"] = str(servers.free_port())
    env["MVQ_REDIS_PORT"] = str(servers.free_port())
    env["MVQ_WITNESS_PORT"] = str(servers.free_port())
    for name in WEED_PORTS:
        env[f"MVQ_{name}_PORT"] = str(servers.free_port(with_grpc=True))
    return env


def ports_of(env: dict[str, str]) -> list[int]:
    ports = [int(v) for k, v in env.items() if k.startswith("MVQ_") and k.endswith("_PORT")]
    twins = [int(env[f"MVQ_{name}_PORT"]) + servers.GRPC_OFFSET for name in WEED_PORTS]
    return ports + [p for p in twins if p < 65536]


@dataclass
class MakeDev:
    """One `make dev` run in `clone`, its output in `log`."""

    clone: Path
    env: dict[str, str]
    log: Path
    proc: subprocess.Popen[bytes]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.env['MVQ_PORT']}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_ready(self, *, timeout: float) -> None:
        def ready() -> bool:
            assert self.proc.poll() is None, f"make dev exited:\n{self.output()[-4000:]}"
            try:
                return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
            except httpx.TransportError:
                return False

        harness.wait_until(ready, timeout=timeout, interval=0.5, what="/readyz")

    def ctrl_c(self, *, timeout: float = 120) -> int:
        """SIGINT to the process group, as a terminal's Ctrl-C: make and the runner both get it."""
        with contextlib.suppress(ProcessLookupError):  # make already gone, and all its group
            os.killpg(self.proc.pid, signal.SIGINT)
        return self.proc.wait(timeout=timeout)


def make_dev(clone: Path, env: dict[str, str], log: Path) -> MakeDev:
    out = log.open("ab")
    proc = subprocess.Popen(
        ["make", "dev"], cwd=clone, env=env, stdout=out, stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL, start_new_session=True,  # its own group, as in a terminal
    )  # fmt: skip
    out.close()
    return MakeDev(clone, env, log, proc)


def demo_credentials(output: str) -> tuple[str, dict[str, str]]:
    """The unit token and each staff role's password, as the first start prints them."""
    token = re.search(r"token=(\S+)", output)
    assert token, output[-3000:]
    passwords = dict(re.findall(r"(\w+)@demo\.mvq\s+password=(\S+)", output))
    return token.group(1), passwords


def processes_of(clone: Path) -> list[str]:
    """Every live process started from the clone: its command line or working directory is in
    it (the venv's python, weed, redis with its data there, the runner)."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            cmdline = (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            cwd = os.readlink(entry / "cwd")
        except (FileNotFoundError, ProcessLookupError, PermissionError):
            continue
        state = _state(entry)
        if state == "Z":  # a zombie holds nothing, and its parent is ours to reap
            continue
        if str(clone) in cmdline or cwd == str(clone) or cwd.startswith(f"{clone}/"):
            found.append(f"{entry.name} {cmdline.strip()}")
    return found


def _state(entry: Path) -> str:
    try:
        return (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return "?"
