"""A throw-away single-node SLURM cluster on localhost, for testing the SLURM profile for real.

Used by ``tests/test_slurm.py`` and by hand::

    python tests/local_slurm.py up      # prints the cluster's folder; Ctrl-C stops it
    SLURM_CONF=<folder>/slurm.conf sinfo

What it does, as root on Debian/Ubuntu (the CI machine kind):

1. installs ``slurmctld slurmd slurm-client munge`` with apt-get when they are missing (Slurm 22.05
   on Debian 12; seconds);
2. writes ``slurm.conf`` into a temporary folder and also at ``/etc/slurm/slurm.conf``, because
   the executor plugin's inner ``srun`` drops ``SLURM_CONF`` - only when no such file exists (a
   real cluster's configuration is never touched), and removes it again on stop;
3. starts ``munged`` (unless one already answers), ``slurmctld`` and ``slurmd`` in the
   foreground as child processes, and on stop kills exactly those PIDs.

Choices that make Slurm 22.05 work in a container without systemd or a database:
``ProctrackType=proctrack/linuxproc`` and ``TaskPlugin=task/none`` (no cgroups);
``AccountingStorageType=accounting_storage/none`` - so ``sacct`` fails and Snakemake's SLURM
plugin must be told ``--slurm-status-command squeue``, with ``MinJobAge`` far above the status
check interval so finished jobs stay visible to ``squeue``; ``DefMemPerCPU`` so that a job without
a memory request does not take the whole node; no GPUs (a ``--gpus`` request fails fast with
"Invalid generic resource (gres) specification").
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

PACKAGES = ("slurmctld", "slurmd", "slurm-client", "munge")
BINARIES = ("slurmctld", "slurmd", "sbatch", "squeue", "sinfo", "srun", "munged", "munge")
SYSTEM_CONF = Path("/etc/slurm/slurm.conf")
MUNGE_SOCKET_DIR = Path("/run/munge")
PARTITION = "modedrop"
MARKER = "# written by modedrop tests/local_slurm.py"
PORTS = (6817, 6818)  # slurmctld, slurmd


class SlurmUnavailable(RuntimeError):
    """This machine cannot host the throw-away cluster; the message says why (a skip reason)."""


def _run(command: list[str], timeout: float, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, **kwargs)


def _missing_binaries() -> list[str]:
    return [b for b in BINARIES if shutil.which(b, path=_sbin_path()) is None]


def _sbin_path() -> str:
    return os.pathsep.join([os.environ.get("PATH", ""), "/usr/sbin", "/sbin"])


def install_packages(timeout: float = 600) -> None:
    """apt-get install the Slurm and munge packages when any of their programs is missing."""
    if not _missing_binaries():
        return
    if os.geteuid() != 0:
        raise SlurmUnavailable("SLURM test needs root to install and run Slurm (not root)")
    if shutil.which("apt-get") is None:
        raise SlurmUnavailable("SLURM test needs apt-get to install Slurm (not a Debian system)")
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    install = ["apt-get", "install", "-y", "--no-install-recommends", *PACKAGES]
    try:
        result = _run(install, timeout, env=env)
        if result.returncode != 0:  # a clean machine may have no package lists yet
            _run(["apt-get", "update"], timeout, env=env)
            result = _run(install, timeout, env=env)
    except subprocess.TimeoutExpired as error:
        raise SlurmUnavailable(f"apt-get did not finish within {timeout:.0f} s") from error
    if result.returncode != 0:
        raise SlurmUnavailable(
            f"could not install {' '.join(PACKAGES)}: {result.stderr.strip()[-500:]}"
        )
    if _missing_binaries():
        raise SlurmUnavailable(f"installed Slurm but {_missing_binaries()} still not found")


def _port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        return probe.connect_ex(("127.0.0.1", port)) == 0


def check_machine() -> None:
    """Raise :class:`SlurmUnavailable` when a throw-away cluster cannot run here."""
    if sys.platform != "linux":
        raise SlurmUnavailable("SLURM test runs on Linux only")
    if os.geteuid() != 0:
        raise SlurmUnavailable("SLURM test needs root to start slurmctld/slurmd (not root)")
    if SYSTEM_CONF.exists() and MARKER not in SYSTEM_CONF.read_text():
        raise SlurmUnavailable(
            f"{SYSTEM_CONF} exists (a real Slurm installation?); not touching it"
        )
    busy = [p for p in PORTS if _port_in_use(p)]
    if busy:
        raise SlurmUnavailable(f"Slurm ports {busy} are in use (another Slurm running?)")


def slurm_conf(folder: Path, host: str, cpus: int, memory_mb: int) -> str:
    """The single-node configuration (see the module docstring for why each choice)."""
    return f"""{MARKER}
ClusterName=modedroptest
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort={PORTS[0]}
SlurmdPort={PORTS[1]}
StateSaveLocation={folder}/state
SlurmdSpoolDir={folder}/spool
SlurmctldPidFile={folder}/slurmctld.pid
SlurmdPidFile={folder}/slurmd.pid
SlurmctldLogFile={folder}/slurmctld.log
SlurmdLogFile={folder}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU_Memory
DefMemPerCPU=1000
MinJobAge=3600
ReturnToService=2
MpiDefault=none
SlurmctldTimeout=30
SlurmdTimeout=30
NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory_mb} State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


def _memory_mb() -> int:
    pages = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    return int(pages / 2**20 * 0.8)  # leave room for the daemons and the test itself


class LocalSlurm:
    """Start with :meth:`start`, stop with :meth:`stop` (or use as a context manager)."""

    def __init__(self, folder: str | Path | None = None):
        self.folder = Path(folder or tempfile.mkdtemp(prefix="modedrop-slurm-"))
        self.conf = self.folder / "slurm.conf"
        self.processes: list[subprocess.Popen] = []
        self.wrote_system_conf = False

    @property
    def env(self) -> dict[str, str]:
        """The environment for clients of this cluster (sbatch, squeue, Snakemake)."""
        return dict(os.environ, SLURM_CONF=str(self.conf), PATH=_sbin_path())

    def __enter__(self) -> LocalSlurm:
        self.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def start(self, timeout: float = 120) -> None:
        check_machine()
        install_packages()
        host = socket.gethostname().split(".")[0]
        for sub in ("state", "spool"):
            (self.folder / sub).mkdir(parents=True, exist_ok=True)
        text = slurm_conf(self.folder, host, os.cpu_count() or 1, _memory_mb())
        self.conf.write_text(text)
        SYSTEM_CONF.parent.mkdir(parents=True, exist_ok=True)
        SYSTEM_CONF.write_text(text)
        self.wrote_system_conf = True
        try:
            self._start_munge(timeout)
            self._spawn(["slurmctld", "-D", "-i", "-f", str(self.conf)], "slurmctld")
            self._spawn(["slurmd", "-D", "-f", str(self.conf)], "slurmd")
            self._wait_for_idle_node(timeout)
        except BaseException:
            self.stop()
            raise

    def _spawn(self, command: list[str], name: str, **kwargs) -> subprocess.Popen:
        log = open(self.folder / f"{name}.out", "w")  # noqa: SIM115 - closed with the process
        process = subprocess.Popen(
            command,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=self.env,
            start_new_session=True,  # a Ctrl-C of the test does not reach the daemons first
            **kwargs,
        )
        log.close()
        self.processes.append(process)
        return process

    def _munge_answers(self) -> bool:
        try:
            encoded = _run(["munge", "-n"], 10)
            if encoded.returncode != 0:
                return False
            return _run(["unmunge"], 10, input=encoded.stdout).returncode == 0
        except (OSError, subprocess.TimeoutExpired):
            return False

    def _start_munge(self, timeout: float) -> None:
        if self._munge_answers():
            return  # a munged is already running (a system service): use it
        MUNGE_SOCKET_DIR.mkdir(parents=True, exist_ok=True)
        shutil.chown(MUNGE_SOCKET_DIR, "munge", "munge")
        self._spawn(["munged", "-F"], "munged", user="munge", group="munge")
        _wait(self._munge_answers, timeout, "munged to answer", self)

    def _node_state(self) -> str:
        result = _run(["sinfo", "-h", "-N", "-o", "%T"], 10, env=self.env)
        return result.stdout.strip() if result.returncode == 0 else ""

    def _wait_for_idle_node(self, timeout: float) -> None:
        _wait(lambda: self._node_state() == "idle", timeout, "the node to be idle", self)

    def logs(self) -> str:
        """The daemons' log tails, for failure messages."""
        parts = []
        for path in sorted(self.folder.glob("*.log")) + sorted(self.folder.glob("*.out")):
            lines = path.read_text(errors="replace").splitlines()[-15:]
            parts.append(f"--- {path.name}\n" + "\n".join(lines))
        return "\n".join(parts)

    def stop(self, timeout: float = 30) -> None:
        """Kill the daemons this object started (by PID) and remove the system config it wrote."""
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + timeout
        for process in reversed(self.processes):
            try:
                process.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(10)
        self.processes.clear()
        if self.wrote_system_conf:
            with contextlib.suppress(FileNotFoundError):
                if MARKER in SYSTEM_CONF.read_text():
                    SYSTEM_CONF.unlink()
            self.wrote_system_conf = False


def _wait(ready, timeout: float, what: str, cluster: LocalSlurm) -> None:
    deadline = time.monotonic() + timeout
    while not ready():
        dead = [p.args[0] for p in cluster.processes if p.poll() is not None]
        if dead or time.monotonic() > deadline:
            reason = f"{dead} exited" if dead else f"not within {timeout:.0f} s"
            raise RuntimeError(f"waiting for {what}: {reason}\n{cluster.logs()}")
        time.sleep(0.5)


def main() -> None:
    if sys.argv[1:] != ["up"]:
        sys.exit(__doc__)
    with LocalSlurm() as cluster:
        print(f"SLURM_CONF={cluster.conf}  (Ctrl-C stops the cluster)", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()


if __name__ == "__main__":
    main()
