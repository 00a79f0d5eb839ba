"""Hypothesis strategies for test_fuzz_rendering.py: valid inventory values, hostile ones, and whole inventories.

An inventory is drawn valid first; then, in most examples, one or two of its fields are replaced by a
hostile value. Each replacement is recorded as the kind of place it went to ('hop', 'target', a runtime
setting...), so that a refusal can be checked for naming that place.
"""

from __future__ import annotations

import shlex

from hypothesis import strategies as st

from ansible_collections.jumphosts.multihop.plugins.plugin_utils._hop_keywords import HOP_KEYWORDS

# Replaced by the absolute path of the test's canary file.
PAYLOADS = (
    'x\nMatch exec "touch CANARY"\n#', '"x\nMatch exec \\"touch CANARY\\"\n#"', 'x\nMatch all\n PermitRootLogin yes',
    'x\r\nMatch exec "touch CANARY"', 'x\rMatch exec "touch CANARY"', 'x\x00\nMatch exec "touch CANARY"',
    'x\nInclude /etc/passwd', 'x\nProxyCommand touch CANARY', 'x\n  LocalCommand touch CANARY', 'x\n*:* [::1]:22',
    'fe80::1%eth0', '[fe80::1%eth0]', 'fe80::1%x"\nMatch exec "touch CANARY"\n#', 'fe80::1%x]:22 *:* [::1',
    '$(touch CANARY)', '`touch CANARY`', 'x;touch CANARY', 'x|touch CANARY', 'x&touch CANARY', "x'$(touch CANARY)'",
    '${HOME}', '$HOME', '%d', '%C', '%h', '%%', '%', 'x#y', '#', 'x y', 'x\ty', ' x', 'x ', '', '-', 'x=y',
    '-oProxyCommand=touch CANARY', '-F/dev/null', '"', "'", '\\', 'x\\', '\\"\nMatch exec "touch CANARY"',
    '²', '２２', '٢٢', 'ｅｘａｍｐｌｅ', '\u202eexample', 'exa\u200bmple', 'x\u2028y', 'x\x85y', 'x\x0by', 'é',
    '22\n', ' 22', '22 ', '-1', '0', '65536', '+22', '0x16', '22.0', '1e3', '022', '99999999999999999999',
    '*', '*:*', '?', '!x', 'x:*', '[::1]:22', '::1', '[::1', '::1]', '1.2.3.4:22', 'user@host', '@', 'a@b@c',
    '~root/.ssh/id', '~', '~/', '/a b', '/a  b', '/a/../b', 'none', 'any', 'yes', 'no', 'all', 'host-', '-host',
    '.host', 'host.', 'a..b', 'bob$', 'a$b', '$', '999999999w', '1h30m', 'x' * 300,
)
HOSTILE_CHARS = tuple('\n\r\x00\t "\'\\#%$;|&`=-*?![]{}()<>~,:@/.ab1') + ('\x0b', '\x85', '\u2028', '²', 'Ａ', '\u202e')
REFUSED_KEYS = ('ProxyCommand', 'ProxyJump', 'KnownHostsCommand', 'LocalCommand', 'PermitLocalCommand', 'Include',
                'Match', 'Host', 'RemoteCommand', 'ForwardAgent', 'HostName', 'User', 'Port', 'SetEnv', 'SendEnv',
                'ControlPath', 'ControlMaster', 'ControlPersist', 'PKCS11Provider', 'Tunnel', 'LocalForward')
_KEY_ALGORITHMS = ('ssh-ed25519', 'ssh-ed25519,rsa-sha2-512', '+ssh-rsa', '-ssh-dss', '^ecdsa-sha2-nistp256')
LIST_VALUES = {
    'ciphers': ('aes128-ctr', 'aes256-gcm@openssh.com,chacha20-poly1305@openssh.com', '-*cbc', '+aes128-cbc'),
    'macs': ('hmac-sha2-256', 'hmac-sha2-512-etm@openssh.com,hmac-sha2-256', '-hmac-sha1*'),
    'kexalgorithms': ('curve25519-sha256', 'curve25519-sha256@libssh.org,diffie-hellman-group16-sha512', '-*sha1'),
    'preferredauthentications': ('publickey', 'publickey,password', 'keyboard-interactive'),
}
OTHER_VALUES = {'ipqos': ('lowdelay', 'throughput', 'af21 cs1', 'ef', 'none'),
                'rekey': ('default none', '1G 1h', '500M', 'default', '4G 30m')}


def hostile(canary: str, strings_only: bool = False):
    """Strings that mean something to ssh_config, sshd_config or a shell, and values of the wrong type."""
    payloads = st.sampled_from(PAYLOADS).map(lambda p: p.replace('CANARY', canary))
    chars = st.text(st.sampled_from(HOSTILE_CHARS), max_size=12)
    mixed = st.builds(lambda a, b, c: a + b + c, st.sampled_from(('', 'x', '10.0.0.1', 'fe80::1', '/k/id', 'root')),
                      st.one_of(payloads, chars), st.sampled_from(('', 'x', ' ', '\n', ':22')))
    if strings_only:
        return st.one_of(payloads, chars, mixed)
    wrong_type = st.one_of(st.integers(-2**70, 2**70), st.booleans(), st.floats(), st.lists(st.text(max_size=3),
                           max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=1),
                           st.binary(max_size=4))
    return st.one_of(payloads, payloads, chars, mixed, wrong_type)


# --- valid values ------------------------------------------------------------------------------------------

label = st.from_regex(r'[a-zA-Z0-9_](?:[a-zA-Z0-9_-]{0,6}[a-zA-Z0-9_])?', fullmatch=True)
dns_name = st.lists(label, min_size=1, max_size=3).map('.'.join)
ipv6 = st.ip_addresses(v=6).map(str)
host = st.one_of(dns_name, st.ip_addresses(v=4).map(str), ipv6, ipv6.map(str.upper), ipv6.map('[{}]'.format))
user = st.from_regex(r'[a-zA-Z0-9_][a-zA-Z0-9._-]{0,10}\$?', fullmatch=True)
port = st.one_of(st.integers(1, 65535), st.integers(1, 65535).map(str))
path = st.from_regex(r'(?:~/|/)[a-zA-Z0-9._+@,:-]{1,8}(?:/[a-zA-Z0-9._+@,:-]{1,8}(?: [a-z]{1,3})?){0,2}',
                     fullmatch=True)
duration = st.one_of(st.sampled_from(('yes', 'no', '0', '60', '60s', '10m', '1h30m', '2d', '1w', 'YES')),
                     st.integers(0, 99999).map(str), st.integers(0, 99999))


def option_value(key: str):
    grammar = HOP_KEYWORDS[key]
    if isinstance(grammar, tuple):
        return st.sampled_from(grammar).flatmap(lambda v: st.sampled_from((v, v.upper(), v.capitalize())))
    strategies = {'host': host, 'path': path, 'paths': st.lists(path.filter(lambda p: ' ' not in p), min_size=1,
                                                                max_size=2).map(' '.join),
                  'int': st.integers(1024 if key == 'requiredrsasize' else 1, 3000).map(str),
                  'list': st.sampled_from(LIST_VALUES.get(key, _KEY_ALGORITHMS))}
    return strategies[grammar] if grammar in strategies else st.sampled_from(OTHER_VALUES[grammar])


def option_item(canary: str, hostile_too: bool):
    """A (keyword, value) for ssh arguments: allowed, or (``hostile_too``) often refused or hostile."""
    key = st.sampled_from(sorted(HOP_KEYWORDS))
    good = key.flatmap(lambda k: st.tuples(st.sampled_from((k, k.upper(), k.capitalize())), option_value(k)))
    if not hostile_too:
        return good
    bad = hostile(canary, strings_only=True)
    refused = st.tuples(st.sampled_from(REFUSED_KEYS), st.sampled_from(('yes', '/tmp/x', f'touch {canary}')) | bad)
    return st.one_of(good, good, good, refused, st.tuples(key, bad), st.tuples(bad, bad))


@st.composite
def ssh_args(draw, canary: str, hostile_too: bool = False):
    """ansible_ssh_common_args (a string) or a hop's ssh_args (a string or a list)."""
    items = draw(st.lists(option_item(canary, hostile_too), max_size=3))
    words = []
    for key, value in items:
        style = draw(st.integers(0, 4 if key.lower() == 'identityfile' else 3))
        words += [['-o', f'{key}={value}'], [f'-o{key}={value}'], ['-o', f'{key} {value}'], ['-o', f'{key}={value}'],
                  ['-i', value]][style]
    if draw(st.integers(0, 4)) == 0:
        return words
    # Unquoted words with spaces become several arguments, as in a shell: only for hostile inputs.
    return ' '.join(w if hostile_too and draw(st.booleans()) else shlex.quote(w) for w in words)


def hostile_args(canary: str):
    return st.one_of(ssh_args(canary, hostile_too=True), hostile(canary))


def near(valid, canary: str):
    """A valid value with something hostile inserted somewhere: what a lax grammar would let through."""
    bad = st.one_of(st.sampled_from(PAYLOADS).map(lambda p: p.replace('CANARY', canary)),
                    st.text(st.sampled_from(HOSTILE_CHARS), min_size=1, max_size=3))
    return st.tuples(valid.map(str), bad, st.integers(0, 40)).map(lambda t: t[0][:t[2]] + t[1] + t[0][t[2]:])


def hop_string(canary: str):
    """``[user@]host[:port]`` with a hostile host (or a hostile string)."""
    hosts = st.one_of(near(host, canary), hostile(canary, strings_only=True))
    return st.one_of(hostile(canary, strings_only=True), st.builds(
        lambda u, h, p: f'{u}{h}{p}', st.sampled_from(('', 'ops@')), st.one_of(hosts, hosts.map('[{}]'.format)),
        st.sampled_from(('', ':22', ':²'))))


def destination(canary: str):
    """``host:port`` with a hostile host or port (or both valid)."""
    def joined(parts):
        host_part, port_part = parts
        return f'[{host_part}]:{port_part}' if ':' in host_part and '[' not in host_part else f'{host_part}:{port_part}'
    hosts, ports = st.one_of(host, host, near(host, canary), st.just('*')), st.one_of(port, near(port, canary))
    return st.tuples(hosts, ports.map(str)).map(joined)


# --- inventories -------------------------------------------------------------------------------------------

def hop_vars(draw, canary: str, socks5: bool = False) -> dict:
    """Connection variables of an inventory host (or a hop mapping, with other keys)."""
    values = {'ansible_host': draw(host)}
    if draw(st.booleans()):
        values['ansible_port'] = draw(port)
    if socks5:
        values['multihop_type'] = 'socks5'
        return values
    for key, strategy in (('ansible_user', user), ('ansible_ssh_private_key_file', path),
                          ('ansible_ssh_common_args', ssh_args(canary).filter(bool))):
        if draw(st.booleans()):
            values[key] = draw(strategy)
    if draw(st.integers(0, 3)) == 0:
        values['ansible_host_key_checking'] = draw(st.sampled_from((True, False, 'yes', 'no', 'false')))
    if draw(st.integers(0, 4)) == 0:
        values['ansible_password'] = 'pw-' + draw(st.from_regex(r'[a-zA-Z0-9]{8}', fullmatch=True))
    if draw(st.booleans()):
        values['multihop_type'] = draw(st.sampled_from(('ssh', 'netcat')))
    return values


MAPPING_KEYS = {'ansible_host': 'host', 'ansible_port': 'port', 'ansible_user': 'user', 'ansible_password': 'password',
                'ansible_ssh_private_key_file': 'private_key_file', 'ansible_ssh_common_args': 'ssh_args',
                'multihop_type': 'type', 'ansible_host_key_checking': 'host_key_checking'}


def inline_hop(draw, canary: str, socks5: bool):
    """A hop that is not an inventory host: a mapping, or a "user@host:port" string."""
    values = hop_vars(draw, canary, socks5)
    if socks5 or draw(st.booleans()):
        return {MAPPING_KEYS[k]: v for k, v in values.items()}
    spec_host = values['ansible_host']
    spec_host = f'[{spec_host}]' if ':' in spec_host and not spec_host.startswith('[') else spec_host
    spec_user = values.get('ansible_user')
    spec_port = values.get('ansible_port')
    spec = (f'{spec_user}@' if spec_user else '') + spec_host + (f':{spec_port}' if spec_port else '')
    # A bare name would be taken for an inventory hostname.
    return spec if any(c in spec for c in '@:.[') else {MAPPING_KEYS[k]: v for k, v in values.items()}


@st.composite
def routed_inventory(draw, canary: str, targets: int, min_jumps: int = 0):
    """Jump hosts jump0.. (each may be routed through the one before), and targets t0.. behind them.

    Returns the inventory (name -> vars) and the target names. A target's multihop_via starts with a jump
    host or an inline hop (a socks5 proxy only in the first place), followed by inline hops.
    """
    inventory = {}
    jumps = [f'jump{i}' for i in range(draw(st.integers(min_jumps, 3)))]
    for index, name in enumerate(jumps):
        inventory[name] = hop_vars(draw, canary, socks5=index == 0 and draw(st.integers(0, 5)) == 0)
        if index and draw(st.booleans()):
            inventory[name]['multihop_via'] = jumps[index - 1]
    names = [f't{i}' for i in range(targets)]
    for name in names:
        inventory[name] = hop_vars(draw, canary)
        via: list = []
        if jumps and draw(st.integers(0, 3)):
            via.append(draw(st.sampled_from(jumps)))
        for _hop in range(draw(st.integers(0 if via else 1, 2))):
            via.append(inline_hop(draw, canary, socks5=not via and draw(st.integers(0, 5)) == 0))
        if via:
            inventory[name]['multihop_via'] = via if len(via) > 1 or draw(st.booleans()) else via[0]
    return inventory, names


HOST_KEYS = ('ansible_host', 'ansible_port', 'ansible_user', 'multihop_type', 'ansible_ssh_private_key_file',
             'ansible_ssh_common_args', 'ansible_host_key_checking', 'ansible_password', 'multihop_via')


def field_paths(inventory: dict, targets: list[str], target_keys=HOST_KEYS):
    """Every field of the inventory that a mutation may replace: (path, kind)."""
    fields = []
    for name, values in inventory.items():
        kind = 'target' if name in targets else 'hop'
        fields += [((name, key), kind) for key in (target_keys if kind == 'target' else HOST_KEYS)]
        via = values.get('multihop_via')
        for index, spec in enumerate(via if isinstance(via, list) else [via] if via else []):
            if isinstance(spec, dict):
                fields += [((name, 'multihop_via', index, key), 'hop') for key in (*MAPPING_KEYS.values(), 'extra')]
            elif isinstance(spec, str) and spec not in inventory:
                fields.append(((name, 'multihop_via', index), 'hop'))
    return fields


# Inventory names a mutation may give a host, besides hostile strings.
NAMES = st.sampled_from(('T0', 'JUMP0', 'a.b', 'x_y-z', 'multihop-10.0.0.1-22', '10.0.0.1', 'user@h', 'h:22'))
# Values a mutation may insert something hostile into, by the field's name.
LIKE = {'ansible_host': host, 'host': host, 'ansible_port': port, 'port': port, 'ansible_user': user, 'user': user,
        'ansible_ssh_private_key_file': path, 'private_key_file': path, 'control_dir': path, 'config_path': path,
        'ssh_executable': path, 'control_persist': duration}
# How often a field is chosen (3 when not listed): rendered values more often than the others.
WEIGHTS = {'ansible_password': 1, 'password': 1, 'ansible_host_key_checking': 1, 'host_key_checking': 1,
           'extra': 1, 'multihop_type': 2, 'type': 2, 'multihop_via': 2, 'connect_timeout': 1}


def rename(inventory: dict, targets: list[str], old: str, new: str):
    """Give an inventory host another name (an alias in ssh_config), everywhere it is named."""
    if new in inventory:
        return
    inventory[new] = inventory.pop(old)
    for values in inventory.values():
        via = values.get('multihop_via')
        if via == old:
            values['multihop_via'] = new
        elif isinstance(via, list):
            values['multihop_via'] = [new if spec == old else spec for spec in via]
    targets[:] = [new if name == old else name for name in targets]


def mutate(draw, canary: str, inventory: dict, targets: list[str], settings: dict, kinds: dict, *,
           target_keys=HOST_KEYS, strings=()):
    """Replace 0, 1 or 2 fields by hostile values (or by an inventory name); returns what was replaced.

    ``settings`` are values that live outside the inventory (runtime options...), ``kinds`` their kinds;
    those named in ``strings`` only get hostile strings, and ``connect_timeout`` any integer.
    """
    touched = []
    for _mutation in range(draw(st.sampled_from((0, 0, 1, 1, 1, 2)))):
        fields = field_paths(inventory, targets, target_keys) + [((k,), v) for k, v in kinds.items()]
        fields += [(('rename', name), 'target' if name in targets else 'hop') for name in inventory]
        path, kind = draw(st.sampled_from([f for f in fields for _copy in range(WEIGHTS.get(f[0][-1], 3))]))
        touched.append((kind, path))
        if path[0] == 'rename':
            rename(inventory, targets, path[1], draw(st.one_of(NAMES, hostile(canary, strings_only=True))))
            continue
        if path[-1] in ('ansible_ssh_common_args', 'ssh_args'):
            value = draw(hostile_args(canary))
        elif path[-1] == 'multihop_via' and draw(st.booleans()):
            value = draw(st.sampled_from(sorted(inventory)))
        elif path[-1] == 'connect_timeout':
            value = draw(st.integers(-2**63, 2**63))
        elif isinstance(path[-1], int):  # a "user@host:port" hop
            value = draw(hop_string(canary))
        elif path[-1] in LIKE and draw(st.booleans()):
            value = draw(near(LIKE[path[-1]], canary))
        else:
            value = draw(hostile(canary, strings_only=path[-1] in strings))
        if len(path) == 1:
            settings[path[0]] = value
            continue
        container = inventory[path[0]]
        if len(path) > 2 and not isinstance(container['multihop_via'], list):
            container['multihop_via'] = [container['multihop_via']]
        for step in path[1:-1]:
            container = container[step]
        container[path[-1]] = value
    return touched
