"""The multi-hop lab is real and isolated: targets and deep are reachable only
through their bastions, with per-hop users, keys and strict host keys.

Plain OpenSSH only (no Ansible). Tests run in file order; the last one tears
the lab down and brings it back up.
"""
import concurrent.futures
import errno
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

LAB_SCRIPT = Path(__file__).resolve().parents[1] / "lab" / "lab.py"


# ---------------------------------------------------------------- helpers

def lab_cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(LAB_SCRIPT), *args],
                          capture_output=True, text=True, timeout=600, check=False)


def refresh(lab: dict) -> dict:
    """Re-read lab.json into the shared fixture dict (pids change on restarts)."""
    lab.update(json.loads(Path(lab["lab_json"]).read_text()))
    return lab


def lab_status() -> dict:
    return json.loads(lab_cli("status").stdout)


def pid_alive(pid) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except FileNotFoundError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def wait_for(predicate, timeout=10.0, what="condition"):
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def count_in_log(path: str, text: str) -> int:
    return Path(path).read_text().count(text)


def in_namespace(namespace: str, *cmd: str) -> subprocess.CompletedProcess:
    return subprocess.run(["ip", "netns", "exec", namespace, *cmd],
                          capture_output=True, text=True, timeout=30, check=False)


def strict_options(known_hosts: str, batch: bool = True) -> list[str]:
    # ssh keeps the FIRST value given for an option, so callers pick here.
    return ["-F", "/dev/null", "-o", f"BatchMode={'yes' if batch else 'no'}", "-o", "ConnectTimeout=3",
            "-o", "IdentitiesOnly=yes", "-o", f"UserKnownHostsFile={known_hosts}",
            "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes"]


def direct_ssh(lab, user, address, port=22, key=None, known_hosts=None, command="true"):
    """ssh straight from the controller, no jump host."""
    key = key or lab["users"][user]["key"]
    options = strict_options(known_hosts or lab["known_hosts"])
    return subprocess.run(["ssh", *options, "-i", key, "-p", str(port),
                           f"{user}@{address}", command],
                          capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL, check=False)


def write_ssh_config(lab: dict, path: Path, control_dir: str | None = None) -> Path:
    """Per-hop users and keys; OpenSSH's -J alone cannot express that."""
    users, hosts = lab["users"], lab["hosts"]

    def block(name, address, user, port=22, jump=None, extra=()):
        lines = [f"Host {name}", f"  HostName {address}", f"  Port {port}", f"  User {user}"]
        if users[user]["key"]:
            lines.append(f"  IdentityFile {users[user]['key']}")
        if jump:
            lines.append(f"  ProxyJump {jump}")
        return "\n".join([*lines, *(f"  {e}" for e in extra)])

    bastion1_extra = [f"ControlPath {control_dir}/cm-%C"] if control_dir else []
    blocks = [
        block("bastion1", hosts["bastion1"]["address"], "jump1", extra=bastion1_extra),
        block("ncjump", hosts["bastion1"]["address"], "ncjump"),
        block("bastion2", hosts["bastion2"]["address"], "jump2", hosts["bastion2"]["port"], jump="bastion1"),
        block("deep1", hosts["deep"]["address"], "deep", jump="bastion2"),
        *(block(name, address, "admin", jump="bastion1") for name, address in lab["targets"].items()),
        "\n".join(["Host *", "  IdentitiesOnly yes", f"  UserKnownHostsFile {lab['known_hosts']}",
                   "  GlobalKnownHostsFile /dev/null", "  StrictHostKeyChecking yes",
                   "  BatchMode yes", "  ConnectTimeout 5"]),
    ]
    path.write_text("\n\n".join(blocks) + "\n")
    return path


def ssh(config: Path, host: str, command: str = "true", input: str | None = None,
        extra=()) -> subprocess.CompletedProcess:
    return subprocess.run(["ssh", "-F", str(config), *extra, host, command], input=input,
                          capture_output=True, text=True, timeout=60,
                          stdin=None if input is not None else subprocess.DEVNULL, check=False)


def ssh_retry(config, host, command="true", attempts=20):
    """Logins right after a reload/start may race the listener."""
    for _attempt in range(attempts):
        result = ssh(config, host, command)
        if result.returncode == 0:
            return result
        time.sleep(0.25)
    return result


@pytest.fixture(scope="module")
def ssh_config(lab, tmp_path_factory) -> Path:
    return write_ssh_config(lab, tmp_path_factory.mktemp("ssh") / "config")


# ---------------------------------------------------------------- isolation

@pytest.mark.parametrize("user,host", [("admin", "targets"), ("deep", "deep")])
def test_hidden_hosts_unreachable_from_controller(lab, user, host):
    address = lab["hosts"][host]["address"]
    result = direct_ssh(lab, user, address)
    assert result.returncode == 255, result
    assert "No route to host" in result.stderr or "unreachable" in result.stderr

    with pytest.raises(OSError) as raised:
        socket.create_connection((address, 22), timeout=3).close()
    # Refused by the routing table, not a timeout: no packet left the controller.
    assert raised.value.errno in (errno.EHOSTUNREACH, errno.ENETUNREACH)


def test_no_forwarding_and_no_routes_across_bastions(lab):
    namespaces = [h["namespace"] for h in lab["hosts"].values()]
    for namespace in namespaces:
        result = in_namespace(namespace, "cat", "/proc/sys/net/ipv4/ip_forward")
        assert result.stdout.strip() == "0", namespace
    ns = {name: h["namespace"] for name, h in lab["hosts"].items()}
    t01, deep = lab["targets"]["t01"], lab["hosts"]["deep"]["address"]
    # Each hidden net is reachable from its own bastion only.
    assert in_namespace(ns["bastion1"], "nc", "-z", "-w", "2", t01, "22").returncode == 0
    assert in_namespace(ns["bastion2"], "nc", "-z", "-w", "2", deep, "22").returncode == 0
    assert in_namespace(ns["bastion1"], "nc", "-z", "-w", "2", deep, "22").returncode != 0
    assert in_namespace(ns["bastion2"], "nc", "-z", "-w", "2", t01, "22").returncode != 0
    assert in_namespace(ns["targets"], "nc", "-z", "-w", "2", deep, "22").returncode != 0


def test_target_reachable_through_bastion1(lab, ssh_config):
    log = lab["logs"]["bastion1"]
    before = count_in_log(log, "Accepted publickey for jump1")
    result = ssh(ssh_config, "t01", "hostname; id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["targets", "admin"]
    wait_for(lambda: count_in_log(log, "Accepted publickey for jump1") == before + 1,
             what="bastion1 to log the jump1 login")


def test_deep_reachable_through_two_bastions(lab, ssh_config):
    result = ssh(ssh_config, "deep1", "hostname; id -un")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["deep", "deep"]
    assert "Accepted publickey for jump2" in Path(lab["logs"]["bastion2"]).read_text()


def test_host_keys_differ_and_are_checked_strictly(lab, tmp_path):
    keys = {name: h["host_key"] for name, h in lab["hosts"].items()}
    assert len(set(keys.values())) == len(keys)
    known = Path(lab["known_hosts"]).read_text().splitlines()
    assert f"{lab['hosts']['bastion1']['address']} {keys['bastion1']}" in known
    assert f"[{lab['hosts']['bastion2']['address']}]:2222 {keys['bastion2']}" in known
    assert sum(line.startswith("10.203.2.") for line in known) == lab["n_targets"]

    bastion1 = lab["hosts"]["bastion1"]["address"]
    assert direct_ssh(lab, "jump1", bastion1).returncode == 0
    # Swap in bastion2's key for bastion1: strict checking must refuse.
    wrong = tmp_path / "known_hosts"
    wrong.write_text(f"{bastion1} {keys['bastion2']}\n")
    result = direct_ssh(lab, "jump1", bastion1, known_hosts=str(wrong))
    assert result.returncode == 255
    assert "REMOTE HOST IDENTIFICATION HAS CHANGED" in result.stderr


# ---------------------------------------------------------------- users

def password_ssh(lab, tmp_path, user, password):
    """Password login via SSH_ASKPASS reading a 0600 file (never argv)."""
    secret = tmp_path / "password"
    secret.touch(mode=0o600)
    secret.write_text(password + "\n")
    askpass = tmp_path / "askpass"
    askpass.write_text('#!/bin/sh\ncat "$MULTIHOP_ASKPASS_FILE"\n')
    askpass.chmod(0o700)
    env = {**os.environ, "SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force",
           "MULTIHOP_ASKPASS_FILE": str(secret), "DISPLAY": ":0"}
    options = strict_options(lab["known_hosts"], batch=False)
    return subprocess.run(["ssh", *options, "-o", "PubkeyAuthentication=no",
                           "-o", "PreferredAuthentications=password", "-o", "NumberOfPasswordPrompts=1",
                           f"{user}@{lab['hosts']['bastion1']['address']}", "id -un"],
                          env=env, capture_output=True, text=True, timeout=30,
                          stdin=subprocess.DEVNULL, start_new_session=True, check=False)


def test_pwjump_logs_in_with_its_password(lab, tmp_path):
    result = password_ssh(lab, tmp_path, "pwjump", lab["users"]["pwjump"]["password"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "pwjump"
    assert password_ssh(lab, tmp_path, "pwjump", "not-the-password").returncode == 255


def test_jump1_rejects_a_wrong_key(lab, tmp_path):
    key = tmp_path / "wrong"
    subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True)
    result = direct_ssh(lab, "jump1", lab["hosts"]["bastion1"]["address"], key=str(key))
    assert result.returncode == 255
    assert "Permission denied" in result.stderr


def test_ncjump_denies_forwarding_but_runs_nc(lab, ssh_config):
    denied = ssh(ssh_config, "t01", extra=["-o", "ProxyJump=ncjump"])
    assert denied.returncode == 255
    assert "administratively prohibited" in denied.stderr
    via_nc = ssh(ssh_config, "t01", "hostname",
                 extra=["-o", f"ProxyCommand=ssh -F {ssh_config} ncjump nc %h %p"])
    assert via_nc.returncode == 0, via_nc.stderr
    assert via_nc.stdout.strip() == "targets"


def test_admin_sudo_needs_its_password(lab, ssh_config):
    password = lab["users"]["admin"]["password"]
    assert ssh(ssh_config, "t01", "sudo -n true").returncode != 0
    result = ssh(ssh_config, "t01", "sudo -S -p '' id -u", input=password + "\n")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_deep_has_passwordless_sudo(ssh_config):
    result = ssh(ssh_config, "deep1", "sudo -n id -u")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


# ---------------------------------------------------------------- daemons

def test_reload_inside_bastion1_only_reloads_bastion1(lab, ssh_config):
    refresh(lab)
    pids, logs = dict(lab["pids"]), lab["logs"]
    hups = {h: count_in_log(logs[h], "Received SIGHUP") for h in ("bastion1", "bastion2")}
    assert ssh(ssh_config, "bastion1", "cat /run/sshd.pid").stdout.strip() == str(pids["bastion1"])

    result = ssh(ssh_config, "bastion1", "sudo /etc/init.d/ssh reload")
    assert result.returncode == 0, result.stderr
    wait_for(lambda: count_in_log(logs["bastion1"], "Received SIGHUP") == hups["bastion1"] + 1,
             what="bastion1 sshd to get SIGHUP")
    assert ssh_retry(ssh_config, "bastion1").returncode == 0

    status = lab_status()["daemons"]
    assert status["bastion1"] == {"pid": pids["bastion1"], "running": True, "run_sshd_pid": pids["bastion1"]}
    assert status["bastion2"]["pid"] == pids["bastion2"] and status["bastion2"]["running"]
    assert count_in_log(logs["bastion2"], "Received SIGHUP") == hups["bastion2"]


def test_socks_proxy_reaches_a_target(lab):
    socks = lab["socks"]
    result = subprocess.run(["nc", "-w", "2", "-X", "5", "-x", f"{socks['host']}:{socks['port']}",
                             lab["targets"]["t01"], "22"],
                            stdin=subprocess.DEVNULL, capture_output=True, timeout=30, check=False)
    assert result.stdout.startswith(b"SSH-2.0-OpenSSH"), result


@pytest.mark.parametrize("host,probe", [("bastion2", "deep1"), ("bastion1", "t01")])
def test_stop_and_start_one_host(lab, ssh_config, host, probe):
    assert lab_cli("stop", host).returncode == 0
    status = lab_status()
    assert not status["up"] and not status["daemons"][host]["running"]
    assert ssh(ssh_config, probe).returncode == 255
    if host == "bastion1":
        assert not status["daemons"]["socks"]["running"]
    else:
        assert ssh(ssh_config, "t01").returncode == 0  # the other path is unaffected

    assert lab_cli("start", host).returncode == 0
    assert lab_status()["up"]
    assert ssh_retry(ssh_config, probe).returncode == 0
    refresh(lab)


def test_parallel_logins_through_one_bastion_master(lab, tmp_path):
    control_dir = tempfile.mkdtemp(prefix="mh-")  # short: socket paths max ~104 chars
    config = write_ssh_config(lab, tmp_path / "config", control_dir)
    log = lab["logs"]["bastion1"]
    master = subprocess.Popen(["ssh", "-F", str(config), "-M", "-N", "bastion1"],
                              stdin=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: ssh(config, "bastion1", extra=["-O", "check"]).returncode == 0,
                 what="the bastion1 ControlMaster")
        logins = count_in_log(log, "Accepted publickey for jump1")
        names = list(lab["targets"])
        with concurrent.futures.ThreadPoolExecutor(max_workers=len(names)) as pool:
            results = dict(zip(names, pool.map(lambda n: ssh(config, n, "hostname"), names), strict=True))
        failed = {n: r.stderr for n, r in results.items() if r.returncode != 0}
        assert not failed
        # Every target hop rode the existing master: no new bastion1 logins.
        assert count_in_log(log, "Accepted publickey for jump1") == logins
    finally:
        master.terminate()
        master.wait(timeout=10)
        shutil.rmtree(control_dir, ignore_errors=True)


# ---------------------------------------------------------------- life cycle (keep last)

def test_up_is_idempotent_and_down_cleans_everything(lab):
    n = lab["n_targets"]
    before = lab_status()
    started = time.monotonic()
    assert lab_cli("up", "--targets", str(n)).returncode == 0
    assert time.monotonic() - started < 10
    assert lab_status()["daemons"] == before["daemons"]  # nothing restarted

    assert lab_cli("up", "--targets", str(n + 1)).returncode == 0  # a different N rebuilds
    rebuilt = lab_status()
    assert rebuilt["up"] and rebuilt["n_targets"] == n + 1
    pids = [d["pid"] for d in rebuilt["daemons"].values()]

    for _twice in range(2):  # down is idempotent
        result = lab_cli("down")
        assert result.returncode == 0, result.stderr
    assert "mhlab-" not in subprocess.run(["ip", "netns", "list"], capture_output=True, text=True, check=False).stdout
    assert not any(pid_alive(pid) for pid in pids)
    assert not list(Path("/etc/netns").glob("mhlab-*"))
    assert not Path("/sys/class/net/mhlab-c0").exists()
    assert "10.203.0.0/16" not in subprocess.run(["ip", "route"], capture_output=True, text=True, check=False).stdout
    assert lab_cli("status").returncode == 1

    # Leave a lab up for later modules and for the session teardown.
    assert lab_cli("up", "--targets", str(n)).returncode == 0
    refresh(lab)
