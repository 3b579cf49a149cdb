"""Fixtures shared by the monitor tests: the fake nvidia-smi on PATH and
the fake Docker engine on a unix socket."""
import os
import shutil
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.environ.get("CONDUIT_SOURCE_DIR", os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(SOURCE, "tests", "lib"))

import conduit_testlib as tl  # noqa: E402

TOOLS = os.path.join(SOURCE, "tests", "tools")
NVSMI = os.path.join(tl.SHARED, "fixtures", "nvidia-smi")
DOCKER_FIXTURES = os.path.join(SOURCE, "tests", "fixtures", "docker")


def start_docker(test, folder=DOCKER_FIXTURES, extra=()):
    """Starts the fake engine; returns the socket path."""
    d = tempfile.mkdtemp(prefix="conduit-docker-")
    test.addCleanup(shutil.rmtree, d, True)
    sock = os.path.join(d, "docker.sock")
    p = subprocess.Popen([sys.executable, os.path.join(TOOLS, "fake_docker.py"), sock,
                          "--dir", folder] + list(extra),
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    test.addCleanup(p.wait, 10)
    test.addCleanup(p.terminate)
    if p.stdout.readline().strip() != "ready":
        raise RuntimeError("fake docker did not start")
    return sock


def gpu_env(gpu_csv="gpu_2xh100.csv", apps_csv="compute_apps.csv", **extra):
    """Environment with the fake nvidia-smi first on PATH."""
    env = {"PATH": TOOLS + ":" + os.environ.get("PATH", "/usr/bin:/bin"),
           "FAKE_NVSMI_GPU": gpu_csv if os.path.isabs(gpu_csv) else os.path.join(NVSMI, gpu_csv),
           "FAKE_NVSMI_APPS": apps_csv if os.path.isabs(apps_csv) else os.path.join(NVSMI, apps_csv)}
    env.update(extra)
    return env
