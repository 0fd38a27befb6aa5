//! Readers for `/etc/services`, `/etc/protocols`, `/etc/networks` and
//! `/etc/ethers`. The first entry for a name wins, as with the C library.

use std::collections::HashMap;
use std::path::Path;

use super::{addr, builtin, Tables, Transport};

/// Loads all tables from `dir`, using built-in services and protocols when
/// those files are absent.
pub(super) fn load(dir: &Path) -> Tables {
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).ok();
    Tables {
        services: read("services").map_or_else(builtin::services, |t| services(&t)),
        protocols: read("protocols").map_or_else(builtin::protocols, |t| protocols(&t)),
        networks: read("networks").map(|t| networks(&t)).unwrap_or_default(),
        ethers: read("ethers").map(|t| ethers(&t)).unwrap_or_default(),
    }
}

/// Whitespace-separated fields of each line, comments removed.
fn records(text: &str) -> impl Iterator<Item = Vec<&str>> {
    text.lines()
        .map(|line| {
            line.split('#')
                .next()
                .unwrap_or("")
                .split_whitespace()
                .collect::<Vec<_>>()
        })
        .filter(|fields| fields.len() >= 2)
}

/// Inserts `value` under `name` and each alias unless already present.
fn insert_names<K, V: Copy>(map: &mut HashMap<K, V>, keys: impl Iterator<Item = K>, value: V)
where
    K: std::hash::Hash + Eq,
{
    for key in keys {
        map.entry(key).or_insert(value);
    }
}

fn services(text: &str) -> HashMap<(String, Transport), u16> {
    let mut map = HashMap::new();
    for fields in records(text) {
        let Some((port, proto)) = fields[1].split_once('/') else {
            continue;
        };
        let transport = match proto {
            "tcp" => Transport::Tcp,
            "udp" => Transport::Udp,
            _ => continue,
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        let names = std::iter::once(fields[0]).chain(fields[2..].iter().copied());
        insert_names(&mut map, names.map(|n| (n.to_string(), transport)), port);
    }
    map
}

fn protocols(text: &str) -> HashMap<String, u32> {
    let mut map = HashMap::new();
    for fields in records(text) {
        let Ok(number) = fields[1].parse::<u32>() else {
            continue;
        };
        let names = std::iter::once(fields[0]).chain(fields[2..].iter().copied());
        insert_names(&mut map, names.map(str::to_string), number);
    }
    map
}

fn networks(text: &str) -> HashMap<String, u32> {
    let mut map = HashMap::new();
    for fields in records(text) {
        let Some(number) = addr::inet_network(fields[1]) else {
            continue;
        };
        let names = std::iter::once(fields[0]).chain(fields[2..].iter().copied());
        insert_names(&mut map, names.map(str::to_string), number);
    }
    map
}

fn ethers(text: &str) -> HashMap<String, [u8; 6]> {
    let mut map = HashMap::new();
    for fields in records(text) {
        if let Some(mac) = addr::parse_mac_colons(fields[0]) {
            map.entry(fields[1].to_string()).or_insert(mac);
        }
    }
    map
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_etc_formats() {
        let s = services("http 80/tcp www # web\nhttp 8080/tcp\ndomain 53/udp\n");
        assert_eq!(s.get(&("http".into(), Transport::Tcp)), Some(&80));
        assert_eq!(s.get(&("www".into(), Transport::Tcp)), Some(&80));
        assert_eq!(s.get(&("domain".into(), Transport::Udp)), Some(&53));
        assert_eq!(s.get(&("domain".into(), Transport::Tcp)), None);
        let p = protocols("tcp 6 TCP\n# x\nudp 17 UDP\n");
        assert_eq!(p.get("TCP"), Some(&6));
        let n = networks("link-local 169.254.0.0\nloopnet 127\n");
        assert_eq!(n.get("link-local"), Some(&0xa9fe_0000));
        assert_eq!(n.get("loopnet"), Some(&127));
        let e = ethers("0:1:2:3:4:5 box\n");
        assert_eq!(e.get("box"), Some(&[0, 1, 2, 3, 4, 5]));
    }
}
