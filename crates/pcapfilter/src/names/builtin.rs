//! Well-known names used when the system files are missing.

use std::collections::HashMap;

use super::Transport;

/// Well-known services: (name, port, available over TCP, over UDP).
const SERVICES: &[(&str, u16, bool, bool)] = &[
    ("ftp-data", 20, true, false),
    ("ftp", 21, true, false),
    ("ssh", 22, true, false),
    ("telnet", 23, true, false),
    ("smtp", 25, true, false),
    ("domain", 53, true, true),
    ("bootps", 67, false, true),
    ("bootpc", 68, false, true),
    ("tftp", 69, false, true),
    ("http", 80, true, false),
    ("www", 80, true, false),
    ("kerberos", 88, true, true),
    ("pop3", 110, true, false),
    ("sunrpc", 111, true, true),
    ("ntp", 123, false, true),
    ("netbios-ns", 137, false, true),
    ("netbios-dgm", 138, false, true),
    ("netbios-ssn", 139, true, false),
    ("imap2", 143, true, false),
    ("imap", 143, true, false),
    ("snmp", 161, true, true),
    ("snmp-trap", 162, true, true),
    ("bgp", 179, true, false),
    ("ldap", 389, true, true),
    ("https", 443, true, true),
    ("microsoft-ds", 445, true, false),
    ("isakmp", 500, false, true),
    ("syslog", 514, false, true),
    ("submission", 587, true, false),
    ("ldaps", 636, true, true),
    ("imaps", 993, true, false),
    ("pop3s", 995, true, false),
    ("openvpn", 1194, true, true),
    ("mysql", 3306, true, false),
    ("postgresql", 5432, true, false),
];

/// Well-known IP protocol names (with the usual capitalized aliases).
const PROTOCOLS: &[(&str, u32)] = &[
    ("ip", 0),
    ("IP", 0),
    ("icmp", 1),
    ("ICMP", 1),
    ("igmp", 2),
    ("IGMP", 2),
    ("ipencap", 4),
    ("tcp", 6),
    ("TCP", 6),
    ("egp", 8),
    ("igp", 9),
    ("udp", 17),
    ("UDP", 17),
    ("ipv6", 41),
    ("IPv6", 41),
    ("ipv6-route", 43),
    ("ipv6-frag", 44),
    ("gre", 47),
    ("GRE", 47),
    ("esp", 50),
    ("ah", 51),
    ("ipv6-icmp", 58),
    ("ipv6-nonxt", 59),
    ("ipv6-opts", 60),
    ("ospf", 89),
    ("pim", 103),
    ("vrrp", 112),
    ("l2tp", 115),
    ("sctp", 132),
];

pub(super) fn services() -> HashMap<(String, Transport), u16> {
    let mut map = HashMap::new();
    for &(name, port, tcp, udp) in SERVICES {
        if tcp {
            map.insert((name.to_string(), Transport::Tcp), port);
        }
        if udp {
            map.insert((name.to_string(), Transport::Udp), port);
        }
    }
    map
}

pub(super) fn protocols() -> HashMap<String, u32> {
    PROTOCOLS.iter().map(|&(n, p)| (n.to_string(), p)).collect()
}
