//! Name resolution: host names, service (port) names, protocol names,
//! network names and Ethernet host names.
//!
//! libpcap resolves names through the C library (`getaddrinfo`,
//! `getservbyname`, ...). [`SystemResolver`] does the equivalent: host
//! names through the system resolver, everything else from the usual
//! `/etc` files, falling back to built-in tables of well-known names when a
//! file is missing. [`StaticResolver`] answers from fixed tables, for
//! deterministic results.

pub(crate) mod addr;
mod builtin;
mod files;

use std::collections::HashMap;
use std::net::{IpAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::OnceLock;

/// Transport protocol of a service name.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Transport {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

/// Answers the name lookups a filter expression can need.
pub trait Resolver {
    /// Addresses of a host, in the order `getaddrinfo` returns them; empty
    /// when the name is unknown.
    fn host(&self, name: &str) -> Vec<IpAddr>;
    /// Port number of a service for one transport.
    fn service(&self, name: &str, transport: Transport) -> Option<u16>;
    /// IP protocol number of a protocol name (`/etc/protocols`).
    fn protocol(&self, name: &str) -> Option<u32>;
    /// Network number of a network name (`/etc/networks`), right-aligned
    /// as `getnetbyname` returns it.
    fn network(&self, name: &str) -> Option<u32>;
    /// MAC address of an Ethernet host name (`/etc/ethers`).
    fn ether_host(&self, name: &str) -> Option<[u8; 6]>;
}

/// Tables loaded from `/etc/*` files (or their built-in fallbacks).
#[derive(Default)]
struct Tables {
    services: HashMap<(String, Transport), u16>,
    protocols: HashMap<String, u32>,
    networks: HashMap<String, u32>,
    ethers: HashMap<String, [u8; 6]>,
}

/// Resolves names as libpcap does on this system.
pub struct SystemResolver {
    etc: PathBuf,
    tables: OnceLock<Tables>,
}

impl Default for SystemResolver {
    fn default() -> Self {
        SystemResolver::new()
    }
}

impl SystemResolver {
    /// A resolver reading `/etc`.
    pub fn new() -> SystemResolver {
        SystemResolver::with_etc_dir("/etc")
    }

    /// A resolver reading `services`, `protocols`, `networks` and `ethers`
    /// from another directory (host names still use the system resolver).
    pub fn with_etc_dir(dir: impl Into<PathBuf>) -> SystemResolver {
        SystemResolver {
            etc: dir.into(),
            tables: OnceLock::new(),
        }
    }

    fn tables(&self) -> &Tables {
        self.tables.get_or_init(|| files::load(&self.etc))
    }
}

impl Resolver for SystemResolver {
    fn host(&self, name: &str) -> Vec<IpAddr> {
        match (name, 0u16).to_socket_addrs() {
            Ok(addrs) => addrs.map(|a| a.ip()).collect(),
            Err(_) => Vec::new(),
        }
    }

    fn service(&self, name: &str, transport: Transport) -> Option<u16> {
        self.tables()
            .services
            .get(&(name.to_string(), transport))
            .copied()
    }

    fn protocol(&self, name: &str) -> Option<u32> {
        self.tables().protocols.get(name).copied()
    }

    fn network(&self, name: &str) -> Option<u32> {
        self.tables().networks.get(name).copied()
    }

    fn ether_host(&self, name: &str) -> Option<[u8; 6]> {
        self.tables().ethers.get(name).copied()
    }
}

/// Resolves names from fixed tables only; by default it knows the
/// built-in well-known services and protocols and nothing else.
#[derive(Clone, Debug)]
pub struct StaticResolver {
    hosts: HashMap<String, Vec<IpAddr>>,
    services: HashMap<(String, Transport), u16>,
    protocols: HashMap<String, u32>,
    networks: HashMap<String, u32>,
    ethers: HashMap<String, [u8; 6]>,
}

impl Default for StaticResolver {
    fn default() -> Self {
        StaticResolver::new()
    }
}

impl StaticResolver {
    /// Built-in services and protocols; no hosts, networks or ethers.
    pub fn new() -> StaticResolver {
        StaticResolver {
            hosts: HashMap::new(),
            services: builtin::services(),
            protocols: builtin::protocols(),
            networks: HashMap::new(),
            ethers: HashMap::new(),
        }
    }

    /// Adds a host name with its addresses (in lookup order).
    pub fn host(mut self, name: &str, addrs: &[IpAddr]) -> Self {
        self.hosts.insert(name.to_string(), addrs.to_vec());
        self
    }

    /// Adds a service name.
    pub fn service(mut self, name: &str, transport: Transport, port: u16) -> Self {
        self.services.insert((name.to_string(), transport), port);
        self
    }

    /// Adds a network name.
    pub fn network(mut self, name: &str, net: u32) -> Self {
        self.networks.insert(name.to_string(), net);
        self
    }

    /// Adds an Ethernet host name.
    pub fn ether(mut self, name: &str, mac: [u8; 6]) -> Self {
        self.ethers.insert(name.to_string(), mac);
        self
    }
}

impl Resolver for StaticResolver {
    fn host(&self, name: &str) -> Vec<IpAddr> {
        self.hosts.get(name).cloned().unwrap_or_default()
    }

    fn service(&self, name: &str, transport: Transport) -> Option<u16> {
        self.services.get(&(name.to_string(), transport)).copied()
    }

    fn protocol(&self, name: &str) -> Option<u32> {
        self.protocols.get(name).copied()
    }

    fn network(&self, name: &str) -> Option<u32> {
        self.networks.get(name).copied()
    }

    fn ether_host(&self, name: &str) -> Option<[u8; 6]> {
        self.ethers.get(name).copied()
    }
}
