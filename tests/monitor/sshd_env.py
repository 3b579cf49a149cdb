"""A throw-away sshd on 127.0.0.1 and an ssh client config that reaches
it under several host names (see test_monitor_ssh.py)."""
import getpass
import os
import socket
import subprocess
import time

from monitor_env import tl


def start_sshd(test, tmp, hosts, path_key_env):
    """hosts: {alias: extra ssh_config lines}.  A second client key,
    tmp/pathkey (for IdentityFile in hosts), logs in with PATH set to
    path_key_env (authorized_keys environment=).  Returns the ssh config
    path, or skips the test when sshd cannot run here."""
    sshd = "/usr/sbin/sshd"
    if not os.path.exists(sshd):
        test.skipTest("no sshd")
    if not os.path.isdir("/run/sshd"):
        try:
            os.makedirs("/run/sshd", 0o755)   # sshd's privilege separation dir
        except OSError:
            test.skipTest("cannot create /run/sshd")
    for name in ("hostkey", "clientkey", "pathkey"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        os.path.join(tmp, name)], check=True)
    with open(os.path.join(tmp, "clientkey.pub")) as f:
        pub = f.read()
    with open(os.path.join(tmp, "pathkey.pub")) as f:
        pathpub = f.read()
    with open(os.path.join(tmp, "authorized_keys"), "w") as f:
        f.write(pub)
        f.write('environment="PATH=%s" %s' % (path_key_env, pathpub))
    with open(os.path.join(tmp, "hostkey.pub")) as f:
        hostpub = " ".join(f.read().split()[:2])
    with open(os.path.join(tmp, "known_hosts"), "w") as f:
        f.write("conduit-test-sshd %s\n" % hostpub)
    port = tl.free_port()
    cfg = os.path.join(tmp, "sshd_config")
    with open(cfg, "w") as f:
        f.write("Port %d\nListenAddress 127.0.0.1\nHostKey %s\n"
                "AuthorizedKeysFile %s\nPermitRootLogin prohibit-password\n"
                "PasswordAuthentication no\nKbdInteractiveAuthentication no\n"
                "UsePAM no\nStrictModes no\nPidFile %s\nPermitUserEnvironment PATH\n"
                "LogLevel ERROR\nMaxStartups 50\n"
                % (port, os.path.join(tmp, "hostkey"), os.path.join(tmp, "authorized_keys"),
                   os.path.join(tmp, "sshd.pid")))
    log = open(os.path.join(tmp, "sshd.log"), "w")
    p = subprocess.Popen([sshd, "-D", "-e", "-f", cfg], stdout=log, stderr=log)
    test.addCleanup(log.close)
    test.addCleanup(p.wait, 10)
    test.addCleanup(p.terminate)

    def up():
        try:
            with socket.create_connection(("127.0.0.1", port), 0.5) as s:
                return s.recv(8).startswith(b"SSH-")
        except OSError:
            return False
    if not tl.wait_for(up, 10):
        test.fail("sshd did not start: " + open(os.path.join(tmp, "sshd.log")).read())

    client = os.path.join(tmp, "ssh_config")
    with open(client, "w") as f:
        for alias, extra in hosts.items():
            f.write("Host %s\n  HostName 127.0.0.1\n" % alias)
            for line in extra:
                f.write("  %s\n" % line)
        f.write("Host *\n  Port %d\n  User %s\n  IdentityFile %s\n  IdentitiesOnly yes\n"
                "  UserKnownHostsFile %s\n  GlobalKnownHostsFile /dev/null\n"
                "  StrictHostKeyChecking yes\n  HostKeyAlias conduit-test-sshd\n"
                "  LogLevel ERROR\n"
                % (port, getpass.getuser(), os.path.join(tmp, "clientkey"),
                   os.path.join(tmp, "known_hosts")))
    return client
