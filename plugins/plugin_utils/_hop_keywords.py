# Copyright (c) 2026, jumphosts.multihop contributors
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The gate's table for the ssh_config settings a hop may carry (``-o Key=Value`` in its ssh arguments).

Pure logic, no I/O. Every keyword is classified once: allowed and checked by its grammar
(HOP_KEYWORDS), ignored on hops (IGNORED_ON_HOPS), or refused with the reason (REFUSED_ON_HOPS,
and any keyword none of the tables knows). It also decides, by meaning rather than spelling,
whether a hop's settings turn host-key checking off or let ssh write into a file the inventory names.
"""

from __future__ import annotations

from ansible_collections.jumphosts.multihop.plugins.plugin_utils import _gate as gate
from ansible_collections.jumphosts.multihop.plugins.plugin_utils._errors import MultihopError

_INT_RE = gate.LazyPattern(r'[0-9]{1,9}\Z')
# Algorithm lists such as "-*cbc,+ssh-rsa" or "^curve25519-sha256": no whitespace, no quotes.
_LIST_RE = gate.LazyPattern(r'[A-Za-z0-9@._+,^*-]{1,2048}\Z')
_IPQOS_RE = gate.LazyPattern(r'[A-Za-z0-9]{1,16}(?: [A-Za-z0-9]{1,16})?\Z')
_REKEY_RE = gate.LazyPattern(r'(?:default|none|[0-9]{1,12}[KMGkmg]?)(?: (?:none|[0-9]{1,9}[smhdwSMHDW]?))?\Z')

_BOOL = ('yes', 'no')
# How each ssh_config keyword a hop may set is checked: a grammar name, or the values it may take.
HOP_KEYWORDS: dict[str, str | tuple[str, ...]] = {
    'addressfamily': ('any', 'inet', 'inet6'),
    'bindaddress': 'host',
    'casignaturealgorithms': 'list',
    'certificatefile': 'path',
    'checkhostip': _BOOL,
    'ciphers': 'list',
    'compression': _BOOL,
    'connectionattempts': 'int',
    'connecttimeout': 'int',
    'fingerprinthash': ('md5', 'sha256'),
    'globalknownhostsfile': 'paths',
    'gssapiauthentication': _BOOL,
    'hashknownhosts': _BOOL,
    'hostbasedacceptedalgorithms': 'list',
    'hostkeyalgorithms': 'list',
    'hostkeyalias': 'host',
    'identitiesonly': _BOOL,
    'identityagent': 'path',
    'identityfile': 'path',
    'ipqos': 'ipqos',
    'kbdinteractiveauthentication': _BOOL,
    'kexalgorithms': 'list',
    'loglevel': ('quiet', 'fatal', 'error', 'info', 'verbose', 'debug', 'debug1', 'debug2', 'debug3'),
    'macs': 'list',
    'numberofpasswordprompts': 'int',
    'passwordauthentication': _BOOL,
    'preferredauthentications': 'list',
    'pubkeyacceptedalgorithms': 'list',
    'pubkeyacceptedkeytypes': 'list',
    'pubkeyauthentication': ('yes', 'no', 'unbound', 'host-bound'),
    'rekeylimit': 'rekey',
    'requiredrsasize': 'int',
    'serveralivecountmax': 'int',
    'serveraliveinterval': 'int',
    'revokedhostkeys': 'path',
    'stricthostkeychecking': ('yes', 'no', 'ask', 'accept-new', 'off', 'true', 'false'),
    'tcpkeepalive': _BOOL,
    'updatehostkeys': ('yes', 'no', 'ask'),
    'userknownhostsfile': 'paths',
    'verifyhostkeydns': ('yes', 'no', 'ask'),
}
# ssh_config keywords that only concern the target's session, or that the plugin manages on every hop:
# dropped from a hop's settings (noted at -vvv), so that options set once for all hosts still work.
IGNORED_ON_HOPS = frozenset((
    'addkeystoagent', 'batchmode', 'canonicaldomains', 'canonicalizefallbacklocal', 'canonicalizehostname',
    'canonicalizemaxdots', 'canonicalizepermittedcnames', 'clearallforwardings', 'controlmaster', 'controlpath',
    'controlpersist', 'dynamicforward', 'enableescapecommandline', 'escapechar', 'exitonforwardfailure',
    'forkafterauthentication', 'forwardx11', 'forwardx11timeout', 'forwardx11trusted', 'gatewayports',
    'hostname', 'localforward', 'logverbose', 'obscurekeystroketiming', 'permitremoteopen', 'port',
    'remotecommand', 'remoteforward', 'requesttty', 'sendenv', 'sessiontype', 'setenv', 'stdinnull',
    'streamlocalbindmask', 'streamlocalbindunlink', 'syslogfacility', 'tag', 'tunnel', 'tunneldevice', 'user',
    'visualhostkey',
))
# Keywords refused on hops, and why: they run a command, load code, change the route, read other files,
# forward credentials or weaken host-key checking. Any keyword in none of the three tables is refused too.
REFUSED_ON_HOPS = {
    'proxycommand': 'describe the route with multihop_via instead',
    'proxyjump': 'describe the route with multihop_via instead',
    'proxyusefdpass': 'describe the route with multihop_via instead',
    'forwardagent': 'set multihop_forward_agent instead',
    'localcommand': 'it runs a command on the controller',
    'permitlocalcommand': 'it runs a command on the controller',
    'knownhostscommand': 'it runs a command on the controller and decides which host keys are trusted',
    'xauthlocation': 'it names a program to run on the controller',
    'pkcs11provider': 'it loads a library into ssh',
    'securitykeyprovider': 'it loads a library into ssh',
    'include': 'it reads another config file',
    'match': 'it opens a conditional block, which can run a command',
    'host': 'it opens another Host block',
    'enablesshkeysign': 'it runs the setuid ssh-keysign',
    'hostbasedauthentication': 'it runs the setuid ssh-keysign',
    'nohostauthenticationforlocalhost': 'it turns host-key checking off for some addresses',
    'gssapidelegatecredentials': 'it forwards credentials to the hop',
}
# Spellings of StrictHostKeyChecking that accept any key, and known-hosts files that never keep one.
HOST_KEY_CHECKING_OFF = frozenset(('no', 'off', 'false'))
NO_KNOWN_HOSTS = frozenset(('/dev/null', 'none'))


def hop_option_role(key: object, value: object, where: str) -> str:
    """``allowed`` or ``ignored`` for an ssh_config keyword in a hop's ssh arguments; refused ones raise.

    Every keyword is classified once, here: allowed (checked by its grammar in HOP_KEYWORDS), ignored on
    hops (IGNORED_ON_HOPS), or refused (REFUSED_ON_HOPS, and any keyword this table does not know).
    """
    if not isinstance(key, str) or not gate.KEYWORD_RE.match(key):
        raise gate.refused(where, 'ssh option', key, 'expected -o Key=Value', True)
    lowered = key.lower()
    if lowered == 'forwardagent' and isinstance(value, str) and value.lower() == 'no':
        return 'ignored'  # already off on every hop
    if lowered in REFUSED_ON_HOPS:
        raise MultihopError(f'{where}: {key} is not allowed on a hop: {REFUSED_ON_HOPS[lowered]}')
    if lowered in IGNORED_ON_HOPS:
        return 'ignored'
    if lowered not in HOP_KEYWORDS:
        raise MultihopError(f'{where}: ssh option {key} is not allowed on a hop')
    return 'allowed'


def check_option(key: object, value: object, where: str, *, reveal: bool = True) -> tuple[str, str]:
    """An ssh_config keyword a hop may set, and its value checked by that keyword's grammar."""
    if not isinstance(key, str) or not gate.KEYWORD_RE.match(key):
        raise gate.refused(where, 'ssh option', key, 'expected -o Key=Value', True)
    grammar = HOP_KEYWORDS.get(key.lower())
    if grammar is None:
        raise MultihopError(f'{where}: ssh option {key} is not allowed on a hop')
    what = f'value of {key}'
    if not isinstance(value, str) or not value:
        raise gate.refused(where, what, value, 'expected a non-empty string', reveal)
    if isinstance(grammar, tuple):
        if value.lower() not in grammar:
            raise gate.refused(where, what, value, 'expected one of ' + ', '.join(grammar), reveal)
    elif grammar == 'host':
        value = gate.check_host(value, f'{where} {key}', reveal=reveal)  # brackets off: ssh_config takes none here
    elif grammar == 'path':
        gate.check_path(value, what, where, reveal=reveal)
    elif grammar == 'paths':
        if value != ' '.join(value.split()):
            raise gate.refused(where, what, value, 'paths are separated by single spaces', reveal)
        for part in value.split(' '):
            gate.check_path(part, what, where, reveal=reveal)
    else:
        pattern = {'int': _INT_RE, 'list': _LIST_RE, 'ipqos': _IPQOS_RE, 'rekey': _REKEY_RE}[grammar]
        if not pattern.match(value):
            raise gate.refused(where, what, value, f'not a valid {key} value', reveal)
    return key, value


def host_key_checking_off(options: tuple[tuple[str, str], ...], host_key_checking: bool | None) -> bool:
    """Whether these settings make OpenSSH accept an unknown or changed host key, whatever the spelling.

    ``options`` are ssh_config settings in order; as in ssh, the first value of a keyword wins.
    """
    if host_key_checking is False:
        return True
    first: dict[str, str] = {}
    for key, value in options:
        first.setdefault(key.lower(), value)
    strict = first.get('stricthostkeychecking', '').lower()
    if strict in HOST_KEY_CHECKING_OFF:
        return True
    known = first.get('userknownhostsfile')
    # accept-new with nowhere to keep the key: every connection is a first one.
    return strict == 'accept-new' and known is not None and all(f in NO_KNOWN_HOSTS for f in known.split())


def named_known_hosts_files(options: tuple[tuple[str, str], ...]) -> list[str]:
    """The real files (not /dev/null or none) a hop's own UserKnownHostsFile names; ssh takes the first value."""
    value = next((v for k, v in options if k.lower() == 'userknownhostsfile'), '')
    return [path for path in value.split() if path not in NO_KNOWN_HOSTS]


def check_known_hosts_writes(options: tuple[tuple[str, str], ...], where: str) -> None:
    """Refuse settings that make ssh write host keys into a file the inventory names.

    With ``accept-new`` or ``UpdateHostKeys``, OpenSSH appends lines to the first UserKnownHostsFile;
    from inventory, that file could be an authorized_keys file or a sudoers drop-in.
    """
    if not named_known_hosts_files(options):
        return
    first: dict[str, str] = {}
    for key, value in options:
        first.setdefault(key.lower(), value.lower())
    if first.get('stricthostkeychecking') == 'accept-new' or first.get('updatehostkeys') in ('yes', 'ask'):
        raise MultihopError(f'{where}: with a UserKnownHostsFile of its own, a hop may not use '
                            'StrictHostKeyChecking accept-new or UpdateHostKeys: ssh would write host keys into that '
                            'file. Put the keys in it, or pin them with multihop_known_hosts')
