"""Throwaway multi-hop lab of real OpenSSH servers, one network namespace each.

    controller (root ns, mhlab-c0 10.203.1.1)
      └─ bastion1 10.203.1.2:22      (+ SOCKS5 proxy on 10.203.1.2:1080)
           ├─ targets 10.203.2.11.. :22   (N addresses, one sshd)
           └─ bastion2 10.203.3.2:2222
                └─ deep 10.203.4.2:22
    controller (root ns, mhlab-c3 10.203.5.1)
      └─ bastion3 10.203.5.2:22      (the bastion role's own; targets again at 10.203.6.10)

Usage (as root):  lab.py up [--targets N] | down | status | stop HOST | start HOST
State lives in $MULTIHOP_LAB_DIR (default /var/lib/multihop-lab). See README.md.
Standard library only.
"""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

# --------------------------------------------------------------------------
# Topology
# --------------------------------------------------------------------------

NS_PREFIX = "mhlab-"
NETNS_ETC = Path("/etc/netns")
NETNS_RUN = Path("/run/netns")
LOCK_PATH = Path("/run/mhlab.lock")
DEFAULT_STATE_DIR = "/var/lib/multihop-lab"
DEFAULT_TARGETS = 3
MAX_TARGETS = 200

CONTROLLER_IF = "mhlab-c0"
CONTROLLER_ADDR = "10.203.1.1"
CONTROLLER3_IF = "mhlab-c3"  # the controller's link to bastion3
CONTROLLER3_ADDR = "10.203.5.1"
# The targets' sshd seen through bastion3: a second interface of the targets namespace.
TARGETS_VIA_BASTION3 = "10.203.6.10"
# Blackhole the lab range in the root namespace: without it, packets to lab
# addresses behind the bastions would leave through the default route.
LAB_SUPERNET = "10.203.0.0/16"
SOCKS_ADDR, SOCKS_PORT = "10.203.1.2", 1080

SSHD = "/usr/sbin/sshd"
SSH = "/usr/bin/ssh"
APT_PACKAGES = ["openssh-server", "openssh-client", "iproute2", "sudo", "netcat-openbsd", "openssl"]
REQUIRED_BINARIES = [SSHD, SSH, "/usr/bin/ssh-keygen", "/usr/bin/sudo", "/usr/bin/nc.openbsd", "/usr/bin/openssl"]
REQUIRED_COMMANDS = ["ip", "unshare"]


@dataclass(frozen=True)
class Host:
    name: str
    address: str  # the address clients connect to (targets: t01's)
    port: int

    @property
    def namespace(self) -> str:
        return NS_PREFIX + self.name

    @property
    def etc(self) -> Path:
        return NETNS_ETC / self.namespace


HOSTS = {h.name: h for h in (
    Host("bastion1", "10.203.1.2", 22),
    Host("targets", "10.203.2.11", 22),
    Host("bastion2", "10.203.3.2", 2222),
    Host("deep", "10.203.4.2", 22),
    # Hardened by roles/bastion in its molecule scenario; nobody else's tests use it.
    Host("bastion3", "10.203.5.2", 22),
)}
SOCKS = "socks"  # the SOCKS proxy daemon, run inside bastion1
DAEMONS = (*HOSTS, SOCKS)


@dataclass(frozen=True)
class User:
    name: str
    host: str
    uid: int
    has_key: bool = True
    has_password: bool = False
    sudo: str | None = None  # "password", "nopasswd" or None
    shell: str = "/bin/bash"
    groups: tuple[str, ...] = ()  # supplementary groups, from GROUPS


USERS = {u.name: u for u in (
    # jump1/jump2 may sudo so tests can manage a bastion's own sshd (reload).
    User("jump1", "bastion1", 29101, sudo="nopasswd"),
    User("pwjump", "bastion1", 29102, has_key=False, has_password=True),
    User("ncjump", "bastion1", 29103),
    User("socks", "bastion1", 29104, shell="/usr/sbin/nologin"),
    User("admin", "targets", 29105, has_password=True, sudo="password"),
    User("jump2", "bastion2", 29106, sudo="nopasswd"),
    User("deep", "deep", 29107, sudo="nopasswd"),
    # bastion3: ops3 administers it directly from the controller; jump3 is the
    # jump-only account the bastion role restricts (through the group jumpers).
    User("ops3", "bastion3", 29108, sudo="nopasswd"),
    User("jump3", "bastion3", 29109, groups=("jumpers",)),
)}

# Supplementary groups: name -> gid, created on the hosts of their members.
GROUPS = {"jumpers": 29200}

# veth pairs as (host or None for the controller, interface name) ends.
VETH_PAIRS = (
    ((None, CONTROLLER_IF), ("bastion1", "eth0")),
    (("bastion1", "eth1"), ("targets", "eth0")),
    (("bastion1", "eth2"), ("bastion2", "eth0")),
    (("bastion2", "eth1"), ("deep", "eth0")),
    ((None, CONTROLLER3_IF), ("bastion3", "eth0")),
    (("bastion3", "eth1"), ("targets", "eth1")),
)
STATIC_ADDRESSES = {
    (None, CONTROLLER_IF): f"{CONTROLLER_ADDR}/24",
    ("bastion1", "eth0"): "10.203.1.2/24",
    ("bastion1", "eth1"): "10.203.2.1/24",
    ("bastion1", "eth2"): "10.203.3.1/24",
    ("bastion2", "eth0"): "10.203.3.2/24",
    ("bastion2", "eth1"): "10.203.4.1/24",
    ("deep", "eth0"): "10.203.4.2/24",
    (None, CONTROLLER3_IF): f"{CONTROLLER3_ADDR}/24",
    ("bastion3", "eth0"): "10.203.5.2/24",
    ("bastion3", "eth1"): "10.203.6.1/24",
    ("targets", "eth1"): f"{TARGETS_VIA_BASTION3}/24",
}


def target_names(n: int) -> dict[str, str]:
    """Inventory name -> address: t01 -> 10.203.2.11, ..."""
    width = 3 if n >= 100 else 2
    return {f"t{i:0{width}d}": f"10.203.2.{10 + i}" for i in range(1, n + 1)}


class LabError(Exception):
    pass


# --------------------------------------------------------------------------
# Small helpers
# --------------------------------------------------------------------------

def run(cmd: list[str], *, input: str | None = None, check: bool = True) -> subprocess.CompletedProcess:
    result = subprocess.run(cmd, input=input, capture_output=True, text=True, check=False)
    if check and result.returncode != 0:
        raise LabError(f"command failed ({result.returncode}): {' '.join(cmd)}\n{result.stderr.strip()}")
    return result


def ip_batch(host: str | None, commands: list[str]) -> None:
    """Run many `ip` commands in one process, inside a host's namespace."""
    ns_args = ["-n", HOSTS[host].namespace] if host else []
    run(["ip", *ns_args, "-batch", "-"], input="\n".join(commands) + "\n")


def write_file(path: Path, text: str, mode: int = 0o644, uid: int = 0, gid: int = 0) -> None:
    path.write_text(text)
    os.chown(path, uid, gid)
    os.chmod(path, mode)  # after writing, so the umask cannot interfere


def make_dir(path: Path, mode: int, uid: int = 0, gid: int = 0) -> None:
    path.mkdir(parents=True, exist_ok=True)
    os.chown(path, uid, gid)
    os.chmod(path, mode)


@contextlib.contextmanager
def lab_lock():
    """Namespace names are global, so serialise every lab.py on the machine."""
    with open(LOCK_PATH, "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield


def wait_until(predicate, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise LabError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(0.02)


# --------------------------------------------------------------------------
# Processes: everything is found and killed by pid, never by name
# --------------------------------------------------------------------------

def process_state(pid: int) -> str | None:
    """Single-letter state from /proc/PID/stat, None when gone."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    return stat.rsplit(")", 1)[1].split()[0]


def is_alive(pid: int | None) -> bool:
    # Orphaned daemons may linger as zombies if PID 1 does not reap them.
    return bool(pid) and process_state(pid) not in (None, "Z")


def process_exe(pid: int) -> str | None:
    try:
        return os.readlink(f"/proc/{pid}/exe")
    except OSError:
        return None


def netns_inode(path: str) -> int | None:
    try:
        return os.stat(path).st_ino
    except OSError:
        return None


def runs_in_namespace(pid: int, namespace: str) -> bool:
    inode = netns_inode(f"/proc/{pid}/ns/net")
    return inode is not None and inode == netns_inode(str(NETNS_RUN / namespace))


def daemon_exe(daemon: str) -> str:
    return SSH if daemon == SOCKS else SSHD


def daemon_namespace(daemon: str) -> str:
    return HOSTS["bastion1" if daemon == SOCKS else daemon].namespace


def daemon_running(daemon: str, pid: int | None) -> bool:
    """The pid is alive, is the expected program, and lives in the lab host."""
    return (is_alive(pid) and process_exe(pid) == daemon_exe(daemon)
            and runs_in_namespace(pid, daemon_namespace(daemon)))


def is_stray_lab_daemon(pid: int) -> bool:
    """For pidfiles left behind: an ssh/sshd outside the root netns."""
    return (is_alive(pid) and process_exe(pid) in (SSH, SSHD)
            and netns_inode(f"/proc/{pid}/ns/net") != netns_inode("/proc/1/ns/net"))


def kill_pids(pids: list[int], grace: float = 3.0) -> None:
    pids = [p for p in pids if p != os.getpid()]
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in pids:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, sig)
        deadline = time.monotonic() + grace
        while any(is_alive(p) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.02)
        pids = [p for p in pids if is_alive(p)]
        if not pids:
            return


def namespace_pids(namespace: str) -> list[int]:
    result = run(["ip", "netns", "pids", namespace], check=False)
    return [int(p) for p in result.stdout.split()]


def is_listening(pid: int, port: int) -> bool:
    """/proc/PID/net/tcp shows the sockets of that process's namespace."""
    try:
        lines = Path(f"/proc/{pid}/net/tcp").read_text().splitlines()[1:]
    except OSError:
        return False
    for line in lines:
        fields = line.split()
        if fields[3] == "0A" and int(fields[1].split(":")[1], 16) == port:
            return True
    return False


# --------------------------------------------------------------------------
# Prerequisites
# --------------------------------------------------------------------------

def require_root() -> None:
    if os.geteuid() != 0:
        raise LabError("lab.py must run as root: it creates network namespaces, "
                       "/etc/netns/mhlab-* and lab users")


def ensure_packages() -> None:
    missing = [b for b in REQUIRED_BINARIES if not os.access(b, os.X_OK)]
    missing += [c for c in REQUIRED_COMMANDS if not shutil.which(c)]
    if not missing:
        return
    print(f"installing packages (missing: {', '.join(missing)})", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    # Keep the package scripts from starting a real sshd in the root namespace.
    policy = Path("/usr/sbin/policy-rc.d")
    added_policy = not policy.exists()
    if added_policy:
        write_file(policy, "#!/bin/sh\nexit 101\n", 0o755)
    try:
        subprocess.run(["apt-get", "update"], env=env, check=True)
        subprocess.run(["apt-get", "install", "-y", *APT_PACKAGES], env=env, check=True)
    finally:
        if added_policy:
            policy.unlink()


def check_traversable(path: Path) -> None:
    """Lab users' homes live under the state dir: every parent needs o+x."""
    for parent in [path, *path.parents]:
        if parent.exists() and not os.stat(parent).st_mode & 0o001:
            raise LabError(f"{parent} is not traversable by other users; lab users could not "
                           f"reach their homes under {path}. Set MULTIHOP_LAB_DIR elsewhere.")


# --------------------------------------------------------------------------
# State directory
# --------------------------------------------------------------------------

@dataclass(frozen=True)
class Paths:
    root: Path

    @property
    def keys(self) -> Path:
        return self.root / "keys"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def run(self) -> Path:
        return self.root / "run"

    @property
    def homes(self) -> Path:
        return self.root / "homes"

    @property
    def lab_json(self) -> Path:
        return self.root / "lab.json"

    @property
    def inventory(self) -> Path:
        return self.root / "inventory.yml"

    @property
    def known_hosts(self) -> Path:
        return self.root / "known_hosts"

    def key(self, user: str) -> Path:
        return self.keys / user

    def log(self, daemon: str) -> Path:
        return self.logs / f"{daemon}.log"

    def pidfile(self, daemon: str) -> Path:
        return self.run / f"{daemon}.pid"

    def home(self, user: User) -> Path:
        return self.homes / user.host / user.name


def state_paths() -> Paths:
    return Paths(Path(os.environ.get("MULTIHOP_LAB_DIR", DEFAULT_STATE_DIR)).resolve())


def prepare_state_dir(paths: Paths) -> None:
    clear_state_dir(paths, keep_logs=False)
    # 0711: lab users may pass through to homes/ but cannot list secrets.
    make_dir(paths.root, 0o711)
    for private in (paths.keys, paths.logs, paths.run):
        make_dir(private, 0o700)
    make_dir(paths.homes, 0o755)


def clear_state_dir(paths: Paths, keep_logs: bool) -> None:
    if not paths.root.is_dir():
        return
    for entry in paths.root.iterdir():
        if keep_logs and entry == paths.logs:
            continue
        if entry.is_dir() and not entry.is_symlink():
            shutil.rmtree(entry)
        else:
            entry.unlink()


def load_lab(paths: Paths) -> dict | None:
    try:
        return json.loads(paths.lab_json.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None


def save_lab(paths: Paths, lab: dict) -> None:
    tmp = paths.lab_json.with_suffix(".tmp")
    write_file(tmp, json.dumps(lab, indent=2) + "\n", 0o600)
    tmp.replace(paths.lab_json)


# --------------------------------------------------------------------------
# Credentials
# --------------------------------------------------------------------------

def make_user_key(paths: Paths, user: User) -> str:
    key = paths.key(user.name)
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"{user.name}@mhlab", "-f", str(key)])
    os.chmod(key, 0o600)
    return key.with_suffix(".pub").read_text().strip()


def hash_password(password: str) -> str:
    # Via stdin so the password never shows up in a process list.
    return run(["openssl", "passwd", "-6", "-stdin"], input=password + "\n").stdout.strip()


def make_credentials(paths: Paths) -> dict[str, dict]:
    creds = {}
    for user in USERS.values():
        password = secrets.token_urlsafe(18) if user.has_password else None
        creds[user.name] = {
            "public_key": make_user_key(paths, user) if user.has_key else None,
            "password": password,
            "password_hash": hash_password(password) if password else None,
        }
    return creds


# --------------------------------------------------------------------------
# Each host's own /etc (bind-mounted by `ip netns exec`)
# --------------------------------------------------------------------------

def host_users(host: Host) -> list[User]:
    return [u for u in USERS.values() if u.host == host.name]


def with_lab_lines(host_file: str, lines: list[str]) -> str:
    base = Path(host_file).read_text()
    if base and not base.endswith("\n"):
        base += "\n"
    return base + "".join(line + "\n" for line in lines)


def write_account_files(host: Host, paths: Paths, creds: dict) -> None:
    users = host_users(host)
    today = int(time.time() // 86400)  # shadow "last change" must not be 0 (= must change)
    passwd = [f"{u.name}:x:{u.uid}:{u.uid}:multihop lab:{paths.home(u)}:{u.shell}" for u in users]
    group = [f"{u.name}:x:{u.uid}:" for u in users]
    for name, gid in GROUPS.items():
        members = [u.name for u in users if name in u.groups]
        if members:
            group.append(f"{name}:x:{gid}:{','.join(members)}")
    # "*" not "!": with UsePAM no, sshd treats a "!" hash as a locked account
    # and refuses even public-key logins.
    shadow = [f"{u.name}:{creds[u.name]['password_hash'] or '*'}:{today}:0:99999:7:::" for u in users]
    write_file(host.etc / "passwd", with_lab_lines("/etc/passwd", passwd))
    write_file(host.etc / "group", with_lab_lines("/etc/group", group))
    shadow_gid = os.stat("/etc/shadow").st_gid
    write_file(host.etc / "shadow", with_lab_lines("/etc/shadow", shadow), 0o640, gid=shadow_gid)
    write_file(host.etc / "hostname", f"{host.name}\n")
    write_file(host.etc / "hosts", f"127.0.0.1\tlocalhost\n127.0.1.1\t{host.name}\n")
    write_sudoers(host, users)
    for user in users:
        make_dir(paths.home(user), 0o700, user.uid, user.uid)


def write_sudoers(host: Host, users: list[User]) -> None:
    rules = {"password": "ALL=(ALL:ALL) ALL", "nopasswd": "ALL=(ALL:ALL) NOPASSWD: ALL"}
    lines = [
        "# multihop lab host " + host.name,
        "Defaults env_reset",
        'Defaults secure_path="/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"',
        "Defaults lecture=never",
        "root ALL=(ALL:ALL) ALL",
        *(f"{u.name} {rules[u.sudo]}" for u in users if u.sudo),
    ]
    write_file(host.etc / "sudoers", "\n".join(lines) + "\n", 0o440)


def sshd_config(host: Host, n_targets: int) -> str:
    lines = [
        f"# multihop lab host {host.name} (generated by tests/lab/lab.py)",
        f"Port {host.port}",
        "AddressFamily inet",
        "HostKey /etc/ssh/ssh_host_ed25519_key",
        "PidFile /run/sshd.pid",
        # pam_loginuid fails inside namespaces; shadow still backs passwords.
        "UsePAM no",
        "PermitRootLogin no",
        "PubkeyAuthentication yes",
        "PasswordAuthentication yes",
        "KbdInteractiveAuthentication no",
        # Root-owned and outside the homes, so StrictModes never objects.
        "AuthorizedKeysFile /etc/ssh/authorized_keys/%u",
        "StrictModes yes",
        "LogLevel VERBOSE",
        "PrintMotd no",
        "X11Forwarding no",
        "AcceptEnv LANG LC_*",
        "Subsystem sftp internal-sftp",
    ]
    if host.name == "targets":
        # One sshd stands in for N machines, each of which would have the
        # default 10:30:100 on its own.
        lines.append(f"MaxStartups {10 * n_targets}:30:{100 * n_targets}")
    if host.name == "bastion2":
        # A bastion that refuses agent forwarding, for the reachability audit; ProxyJump does not need it.
        lines.append("AllowAgentForwarding no")
    if host.name == "bastion1":
        lines += ["Match User ncjump", "    AllowTcpForwarding no"]
    return "\n".join(lines) + "\n"


def write_ssh_dir(host: Host, paths: Paths, creds: dict, n_targets: int) -> list[str]:
    """Writes the host's /etc/ssh and returns its public host key."""
    ssh_dir = host.etc / "ssh"
    make_dir(ssh_dir, 0o755)
    write_file(ssh_dir / "sshd_config", sshd_config(host, n_targets))
    write_file(ssh_dir / "ssh_config", "Host *\n    SendEnv LANG LC_*\n    HashKnownHosts no\n")
    if Path("/etc/ssh/moduli").exists():
        shutil.copyfile("/etc/ssh/moduli", ssh_dir / "moduli")
    host_key = ssh_dir / "ssh_host_ed25519_key"
    run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", f"root@{host.name}", "-f", str(host_key)])
    make_dir(ssh_dir / "authorized_keys", 0o755)
    for user in host_users(host):
        public_key = creds[user.name]["public_key"]
        if public_key:
            # The SOCKS account may only forward ports.
            options = "restrict,port-forwarding " if user.name == "socks" else ""
            write_file(ssh_dir / "authorized_keys" / user.name, options + public_key + "\n")
    return host_key.with_suffix(".pub").read_text().split()[:2]


def write_host_etc(host: Host, paths: Paths, creds: dict, n_targets: int) -> list[str]:
    make_dir(NETNS_ETC, 0o755)
    make_dir(host.etc, 0o755)
    write_account_files(host, paths, creds)
    return write_ssh_dir(host, paths, creds, n_targets)


# --------------------------------------------------------------------------
# Network
# --------------------------------------------------------------------------

def lab_namespaces() -> list[str]:
    names = run(["ip", "netns", "list"], check=False).stdout.split("\n")
    return sorted(n.split()[0] for n in names if n.startswith(NS_PREFIX))


def link_exists(name: str) -> bool:
    return Path(f"/sys/class/net/{name}").exists()


def build_network(n_targets: int) -> None:
    for host in HOSTS.values():
        run(["ip", "netns", "add", host.namespace])
    for (a_host, a_if), (b_host, b_if) in VETH_PAIRS:
        ns_args = ["-n", HOSTS[a_host].namespace] if a_host else []
        run(["ip", *ns_args, "link", "add", a_if, "type", "veth",
             "peer", "name", b_if, "netns", HOSTS[b_host].namespace])
    addresses: dict[tuple, list[str]] = {end: [addr] for end, addr in STATIC_ADDRESSES.items()}
    addresses[("targets", "eth0")] = [f"{a}/24" for a in target_names(n_targets).values()]
    for host in [None, *HOSTS]:
        commands = [] if host is None else ["link set lo up"]
        for (h, ifname), addrs in addresses.items():
            if h == host:
                commands += [f"addr add {a} dev {ifname}" for a in addrs]
                commands.append(f"link set {ifname} up")
        if host is None:
            commands.append(f"route add unreachable {LAB_SUPERNET}")
        ip_batch(host, commands)
    for host in HOSTS.values():
        # New namespaces start with forwarding off; make it explicit anyway.
        run(["ip", "netns", "exec", host.namespace, "sysctl", "-q", "-w", "net.ipv4.ip_forward=0"])


def teardown_network() -> None:
    for namespace in lab_namespaces():
        kill_pids(namespace_pids(namespace))
        run(["ip", "netns", "delete", namespace], check=False)
    for link in (CONTROLLER_IF, CONTROLLER3_IF):
        if link_exists(link):
            run(["ip", "link", "delete", link], check=False)
    run(["ip", "route", "delete", "unreachable", LAB_SUPERNET], check=False)
    for etc in NETNS_ETC.glob(NS_PREFIX + "*"):
        shutil.rmtree(etc)


# --------------------------------------------------------------------------
# Daemons
# --------------------------------------------------------------------------

# Inside the host: own hostname, private /run (so /run/sshd.pid and sudo's
# timestamps are per host), then sshd in the foreground so our Popen pid IS
# the sshd. sshd -D still writes its PidFile, and SIGHUP re-execs in place,
# so `service ssh reload` inside the host keeps the pid.
SSHD_LAUNCHER = ('hostname "$1" && mount -t tmpfs -o mode=0755 tmpfs /run && mkdir -p /run/sshd '
                 '&& exec /usr/sbin/sshd -D -f /etc/ssh/sshd_config -E "$2"')


def spawn_daemon(cmd: list[str], log: Path) -> int:
    with open(log, "a") as log_file:
        # New session + no inherited pipes: the daemon outlives lab.py and
        # never holds a caller's stdout open.
        proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log_file, stderr=log_file,
                                start_new_session=True)
    return proc.pid


def wait_ready(daemon: str, pid: int, port: int, log: Path) -> None:
    def ready() -> bool:
        if not is_alive(pid):
            tail = log.read_text()[-2000:] if log.exists() else ""
            raise LabError(f"{daemon} (pid {pid}) exited during start-up; log {log}:\n{tail}")
        return daemon_running(daemon, pid) and is_listening(pid, port)
    wait_until(ready, 15, f"{daemon} to listen on port {port}")


def start_sshd(host: Host, paths: Paths) -> int:
    log = paths.log(host.name)
    pid = spawn_daemon(["ip", "netns", "exec", host.namespace, "unshare", "--mount", "--uts",
                        "--propagation", "private", "sh", "-c", SSHD_LAUNCHER, "sh", host.name, str(log)],
                       log)
    paths.pidfile(host.name).write_text(f"{pid}\n")
    return pid


def start_socks(paths: Paths) -> int:
    """ssh -D inside bastion1, logged in to bastion1 itself as `socks`."""
    log = paths.log(SOCKS)
    pid = spawn_daemon(["ip", "netns", "exec", HOSTS["bastion1"].namespace,
                        SSH, "-F", "/dev/null", "-N", "-D", f"{SOCKS_ADDR}:{SOCKS_PORT}",
                        "-i", str(paths.key("socks")), "-l", "socks", "-E", str(log),
                        "-o", "IdentitiesOnly=yes", "-o", "BatchMode=yes",
                        "-o", f"UserKnownHostsFile={paths.known_hosts}",
                        "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
                        "-o", "ExitOnForwardFailure=yes", "-o", "ServerAliveInterval=15",
                        HOSTS["bastion1"].address],
                       log)
    paths.pidfile(SOCKS).write_text(f"{pid}\n")
    return pid


def daemon_port(daemon: str) -> int:
    return SOCKS_PORT if daemon == SOCKS else HOSTS[daemon].port


def start_daemon(daemon: str, paths: Paths) -> int:
    pid = start_socks(paths) if daemon == SOCKS else start_sshd(HOSTS[daemon], paths)
    wait_ready(daemon, pid, daemon_port(daemon), paths.log(daemon))
    return pid


def start_all_sshd(paths: Paths) -> dict[str, int]:
    pids = {name: start_sshd(host, paths) for name, host in HOSTS.items()}
    for name, pid in pids.items():  # started in parallel, then awaited
        wait_ready(name, pid, HOSTS[name].port, paths.log(name))
    return pids


def recorded_pids(paths: Paths) -> list[int]:
    pids = []
    for daemon in DAEMONS:
        with contextlib.suppress(FileNotFoundError, ValueError):
            pids.append(int(paths.pidfile(daemon).read_text()))
    return pids


# --------------------------------------------------------------------------
# Files for the tests and the inventory
# --------------------------------------------------------------------------

def write_known_hosts(paths: Paths, host_keys: dict[str, list[str]], n_targets: int) -> None:
    def entry(address: str, port: int, key: list[str]) -> str:
        name = address if port == 22 else f"[{address}]:{port}"
        return f"{name} {' '.join(key)}"
    lines = [entry(HOSTS[h].address, HOSTS[h].port, host_keys[h]) for h in ("bastion1", "bastion2", "deep")]
    lines += [entry(a, 22, host_keys["targets"]) for a in target_names(n_targets).values()]
    lines += [entry(HOSTS["bastion3"].address, HOSTS["bastion3"].port, host_keys["bastion3"]),
              entry(TARGETS_VIA_BASTION3, 22, host_keys["targets"])]
    write_file(paths.known_hosts, "\n".join(lines) + "\n", 0o644)


def describe_lab(paths: Paths, n_targets: int, creds: dict, host_keys: dict, pids: dict) -> dict:
    hosts = {}
    for name, host in HOSTS.items():
        hosts[name] = {
            "namespace": host.namespace,
            "address": host.address,
            "port": host.port,
            "interfaces": {i: a for (h, i), a in STATIC_ADDRESSES.items() if h == name},
            "host_key": " ".join(host_keys[name]),
            "sshd_config": str(host.etc / "ssh" / "sshd_config"),
            "log": str(paths.log(name)),
            "pidfile": str(paths.pidfile(name)),
            "users": [u.name for u in host_users(host)],
        }
    hosts["targets"]["addresses"] = list(target_names(n_targets).values())
    hosts["targets"]["address_via_bastion3"] = TARGETS_VIA_BASTION3
    users = {
        u.name: {
            "host": u.host,
            "uid": u.uid,
            "home": str(paths.home(u)),
            "key": str(paths.key(u.name)) if u.has_key else None,
            "public_key": creds[u.name]["public_key"],
            "password": creds[u.name]["password"],
            "sudo": u.sudo,
            "groups": list(u.groups),
        }
        for u in USERS.values()
    }
    return {
        "schema": 1,
        "n_targets": n_targets,
        "source_digest": lab_source_digest(),
        "state_dir": str(paths.root),
        "lab_json": str(paths.lab_json),
        "inventory": str(paths.inventory),
        "known_hosts": str(paths.known_hosts),
        "controller": {"interface": CONTROLLER_IF, "address": CONTROLLER_ADDR,
                       "bastion3_interface": CONTROLLER3_IF, "bastion3_address": CONTROLLER3_ADDR},
        "hosts": hosts,
        "targets": target_names(n_targets),
        "users": users,
        "socks": {"host": SOCKS_ADDR, "port": SOCKS_PORT, "namespace": HOSTS["bastion1"].namespace,
                  "user": "socks", "log": str(paths.log(SOCKS)), "pidfile": str(paths.pidfile(SOCKS))},
        "logs": {d: str(paths.log(d)) for d in DAEMONS},
        "pids": pids,
    }


def flow_map(values: dict) -> str:
    """A YAML flow mapping; JSON scalars are valid YAML scalars."""
    return "{" + ", ".join(f"{k}: {json.dumps(v)}" for k, v in values.items()) + "}"


def inventory_yaml(lab: dict) -> str:
    users, hosts = lab["users"], lab["hosts"]
    common_args = f"-o UserKnownHostsFile={lab['known_hosts']} -o StrictHostKeyChecking=yes"
    bastion1 = {"ansible_host": hosts["bastion1"]["address"], "ansible_user": "jump1",
                "ansible_ssh_private_key_file": users["jump1"]["key"]}
    bastion2 = {"ansible_host": hosts["bastion2"]["address"], "ansible_port": hosts["bastion2"]["port"],
                "ansible_user": "jump2", "ansible_ssh_private_key_file": users["jump2"]["key"],
                "multihop_via": "bastion1"}
    target_vars = {"ansible_user": "admin", "ansible_ssh_private_key_file": users["admin"]["key"],
                   "ansible_become_password": users["admin"]["password"], "multihop_via": "bastion1"}
    deep1 = {"ansible_host": hosts["deep"]["address"], "ansible_user": "deep",
             "ansible_ssh_private_key_file": users["deep"]["key"], "multihop_via": "bastion2"}
    # bastion3 is managed as ops3 (not a hop, so not in `bastions`); bastion3_jump is
    # the same machine as the jump-only user jump3, the hop of t01_via_bastion3.
    bastion3 = {"ansible_host": hosts["bastion3"]["address"], "ansible_user": "ops3",
                "ansible_ssh_private_key_file": users["ops3"]["key"]}
    bastion3_jump = {"ansible_host": hosts["bastion3"]["address"], "ansible_user": "jump3",
                     "ansible_ssh_private_key_file": users["jump3"]["key"]}
    t01_via_bastion3 = {"ansible_host": hosts["targets"]["address_via_bastion3"], "ansible_user": "admin",
                        "ansible_ssh_private_key_file": users["admin"]["key"],
                        "ansible_become_password": users["admin"]["password"], "multihop_via": "bastion3_jump"}
    lines = [
        "# multihop lab inventory (generated by tests/lab/lab.py)",
        "all:",
        "  vars:",
        f"    ansible_connection: {json.dumps('jumphosts.multihop.ssh')}",
        f"    ansible_python_interpreter: {json.dumps('/usr/bin/python3')}",
        f"    ansible_ssh_common_args: {json.dumps(common_args)}",
        "  children:",
        "    bastions:",
        "      hosts:",
        f"        bastion1: {flow_map(bastion1)}",
        f"        bastion2: {flow_map(bastion2)}",
        "    targets:",
        f"      vars: {flow_map(target_vars)}",
        "      hosts:",
        *(f"        {name}: {flow_map({'ansible_host': addr})}" for name, addr in lab["targets"].items()),
        "    deep:",
        "      hosts:",
        f"        deep1: {flow_map(deep1)}",
        "    hardening:",
        "      hosts:",
        f"        bastion3: {flow_map(bastion3)}",
        "    hardening_jump:",
        "      hosts:",
        f"        bastion3_jump: {flow_map(bastion3_jump)}",
        "    hardening_targets:",
        "      hosts:",
        f"        t01_via_bastion3: {flow_map(t01_via_bastion3)}",
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------
# Lab life cycle
# --------------------------------------------------------------------------

def build(paths: Paths, n_targets: int) -> dict:
    prepare_state_dir(paths)
    creds = make_credentials(paths)
    host_keys = {name: write_host_etc(host, paths, creds, n_targets) for name, host in HOSTS.items()}
    build_network(n_targets)
    pids = start_all_sshd(paths)
    write_known_hosts(paths, host_keys, n_targets)  # the SOCKS login checks it strictly
    pids[SOCKS] = start_daemon(SOCKS, paths)
    lab = describe_lab(paths, n_targets, creds, host_keys, pids)
    save_lab(paths, lab)
    write_file(paths.inventory, inventory_yaml(lab), 0o600)
    return lab


def teardown(paths: Paths) -> None:
    kill_pids([p for p in recorded_pids(paths) if is_stray_lab_daemon(p)])
    teardown_network()
    clear_state_dir(paths, keep_logs=True)  # logs stay for post-mortems


def structure_intact(lab: dict, paths: Paths) -> bool:
    namespaces = set(lab_namespaces())
    return (all(h.namespace in namespaces and h.etc.is_dir() for h in HOSTS.values())
            and link_exists(CONTROLLER_IF) and link_exists(CONTROLLER3_IF)
            and paths.known_hosts.exists() and paths.inventory.exists())


def start_stopped_daemons(paths: Paths, lab: dict, daemons: list[str]) -> list[str]:
    started = []
    for daemon in daemons:
        if not daemon_running(daemon, lab["pids"].get(daemon)):
            lab["pids"][daemon] = start_daemon(daemon, paths)
            started.append(daemon)
    save_lab(paths, lab)
    return started


def host_daemons(host: str) -> list[str]:
    # The SOCKS proxy lives and dies with bastion1.
    return [host, SOCKS] if host == "bastion1" else [host]


# --------------------------------------------------------------------------
# Commands
# --------------------------------------------------------------------------

def lab_source_digest() -> str:
    """Changes whenever this script does, so a lab built by an older version is rebuilt."""
    return hashlib.sha256(Path(__file__).read_bytes()).hexdigest()[:16]


def cmd_up(paths: Paths, n_targets: int | None) -> int:
    if n_targets is not None and not 1 <= n_targets <= MAX_TARGETS:
        raise LabError(f"--targets must be between 1 and {MAX_TARGETS}")
    ensure_packages()
    with lab_lock():
        lab = load_lab(paths)
        current = lab and lab.get("source_digest") == lab_source_digest() and structure_intact(lab, paths)
        if n_targets is None:  # keep whatever size is up, e.g. a benchmark's 50 targets
            n_targets = lab["n_targets"] if current else DEFAULT_TARGETS
        if current and lab["n_targets"] == n_targets:
            started = start_stopped_daemons(paths, lab, list(DAEMONS))
            print(f"lab already up ({n_targets} targets)" + (f"; restarted {', '.join(started)}" if started else ""))
            return 0
        check_traversable(paths.root)  # before touching a running lab
        started_at = time.monotonic()
        teardown(paths)
        try:
            build(paths, n_targets)
        except BaseException:
            teardown(paths)  # never leave half a lab behind; logs are kept
            raise
    print(f"lab up: {n_targets} targets in {time.monotonic() - started_at:.1f}s; {paths.lab_json}")
    return 0


def cmd_down(paths: Paths) -> int:
    with lab_lock():
        teardown(paths)
    print("lab down")
    return 0


def lab_status(paths: Paths) -> dict:
    lab = load_lab(paths)
    pids = lab["pids"] if lab else {}
    daemons = {}
    for daemon in DAEMONS:
        pid = pids.get(daemon)
        daemons[daemon] = {"pid": pid, "running": daemon_running(daemon, pid)}
        if daemon in HOSTS and daemons[daemon]["running"]:
            # The pidfile sshd wrote inside the host's private /run.
            with contextlib.suppress(OSError, ValueError):
                daemons[daemon]["run_sshd_pid"] = int(Path(f"/proc/{pid}/root/run/sshd.pid").read_text())
    built = lab is not None and structure_intact(lab, paths)
    return {
        "up": built and all(d["running"] for d in daemons.values()),
        "built": built,
        "state_dir": str(paths.root),
        "lab_json": str(paths.lab_json) if lab else None,
        "n_targets": lab["n_targets"] if lab else None,
        "namespaces": lab_namespaces(),
        "daemons": daemons,
    }


def cmd_status(paths: Paths) -> int:
    status = lab_status(paths)
    print(json.dumps(status, indent=2))
    return 0 if status["up"] else 1


def require_built_lab(paths: Paths) -> dict:
    lab = load_lab(paths)
    if not lab or not structure_intact(lab, paths):
        raise LabError("the lab is not up; run `lab.py up` first")
    return lab


def cmd_stop(paths: Paths, host: str) -> int:
    with lab_lock():
        lab = require_built_lab(paths)
        # A machine that is down: its sshd, every session and the SOCKS proxy.
        kill_pids(namespace_pids(HOSTS[host].namespace))
        for daemon in host_daemons(host):
            lab["pids"][daemon] = None
            paths.pidfile(daemon).unlink(missing_ok=True)
        save_lab(paths, lab)
    print(f"{host} stopped")
    return 0


def cmd_start(paths: Paths, host: str) -> int:
    with lab_lock():
        lab = require_built_lab(paths)
        started = start_stopped_daemons(paths, lab, host_daemons(host))
    print(f"{host} started" if started else f"{host} already running")
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description="Multi-hop OpenSSH lab in network namespaces (run as root).")
    commands = parser.add_subparsers(dest="command", required=True)
    up = commands.add_parser("up", help="build the lab (idempotent)")
    up.add_argument("--targets", type=int, default=None,
                    help=f"number of targets (1-{MAX_TARGETS}; default: the running lab's, else {DEFAULT_TARGETS})")
    commands.add_parser("down", help="tear the lab down (idempotent)")
    commands.add_parser("status", help="print JSON status; exit 1 unless fully up")
    for name in ("stop", "start"):
        command = commands.add_parser(name, help=f"{name} one lab host's sshd")
        command.add_argument("host", choices=list(HOSTS))
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(sys.argv[1:] if argv is None else argv)
    paths = state_paths()
    try:
        require_root()
        if args.command == "status":
            return cmd_status(paths)
        if args.command == "up":
            return cmd_up(paths, args.targets)
        if args.command == "down":
            return cmd_down(paths)
        if args.command == "stop":
            return cmd_stop(paths, args.host)
        return cmd_start(paths, args.host)
    except LabError as error:
        print(f"lab.py: {error}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
