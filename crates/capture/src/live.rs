//! Live capture on Linux through an `AF_PACKET` socket.
//!
//! A [`Capture`] is bound to one interface. Its link type comes from the
//! interface's hardware type (`ARPHRD_*`) as libpcap maps it; interfaces
//! without a known link-layer header are captured in "cooked" mode and
//! delivered with a Linux cooked (`LINUX_SLL`) header, as libpcap does.
//!
//! Filters run in the kernel (`SO_ATTACH_FILTER`) when possible. Replacing
//! a filter uses libpcap's drain trick: attach a reject-all filter, read
//! away whatever is queued, then attach the new one, so no packet that the
//! new filter rejects is ever returned. In cooked mode (where the kernel
//! would run the filter without the cooked header) and when the kernel
//! refuses the program (e.g. the backward jumps of `ip6 protochain`), the
//! filter runs in user space with [`bpfkit_cbpf::run`] instead.

use crate::linktype::Dlt;
use crate::reader::Timestamp;
use bpfkit_cbpf::{op, Insn};
use std::ffi::CString;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// A live-capture failure: the system call or step and the OS error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LiveError {
    /// No interface has this name.
    #[error("no such interface: {0}")]
    NoSuchInterface(String),
    /// A system call failed.
    #[error("{what}: {source}")]
    Os {
        /// The operation.
        what: &'static str,
        /// The error.
        #[source]
        source: io::Error,
    },
}

fn os_error(what: &'static str) -> LiveError {
    os(what)(io::Error::last_os_error())
}

/// Wraps an OS error with the operation that failed.
fn os(what: &'static str) -> impl FnOnce(io::Error) -> LiveError {
    move |source| LiveError::Os { what, source }
}

/// Options of a capture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LiveConfig {
    /// Bytes kept of each packet (tcpdump's default is 262144).
    pub snaplen: u32,
    /// Put the interface in promiscuous mode while capturing.
    pub promiscuous: bool,
}

impl Default for LiveConfig {
    fn default() -> Self {
        LiveConfig {
            snaplen: crate::MAXIMUM_SNAPLEN,
            promiscuous: false,
        }
    }
}

/// Where the current filter runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FilterPlacement {
    /// Attached to the socket.
    Kernel,
    /// Run on each received packet by this process.
    Userland,
}

/// One captured packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LivePacket<'a> {
    /// Kernel receive time, in nanoseconds.
    pub ts: Timestamp,
    /// Bytes in `data`.
    pub caplen: u32,
    /// Length of the packet on the wire (plus the cooked header, in cooked mode).
    pub wirelen: u32,
    /// Direction (`PACKET_HOST` = 0 ... `PACKET_OUTGOING` = 4).
    pub pkttype: u8,
    /// The packet, starting with its link-layer header.
    pub data: &'a [u8],
}

/// Length of the Linux cooked header (`struct sll_header`).
const SLL_HDR_LEN: usize = 16;

/// `ARPHRD_NETLINK` (not in the libc crate).
const ARPHRD_NETLINK: u16 = 824;

/// libpcap's mapping of the common Linux hardware types; `None` means
/// "capture in cooked mode".
fn arphrd_to_dlt(arphrd: u16) -> Option<Dlt> {
    Some(match arphrd {
        libc::ARPHRD_ETHER | libc::ARPHRD_LOOPBACK | libc::ARPHRD_METRICOM => Dlt::EN10MB,
        libc::ARPHRD_NONE
        | libc::ARPHRD_TUNNEL
        | libc::ARPHRD_SIT
        | libc::ARPHRD_CSLIP
        | libc::ARPHRD_SLIP6
        | libc::ARPHRD_CSLIP6
        | libc::ARPHRD_ADAPT
        | libc::ARPHRD_SLIP
        | libc::ARPHRD_RAWHDLC
        | libc::ARPHRD_DLCI => Dlt::RAW,
        libc::ARPHRD_IEEE80211 => Dlt::IEEE802_11,
        libc::ARPHRD_IEEE80211_PRISM => Dlt::PRISM_HEADER,
        libc::ARPHRD_IEEE80211_RADIOTAP => Dlt::IEEE802_11_RADIO,
        libc::ARPHRD_CISCO => Dlt::C_HDLC,
        libc::ARPHRD_FDDI => Dlt::FDDI,
        libc::ARPHRD_IEEE802 | libc::ARPHRD_IEEE802_TR => Dlt::IEEE802,
        libc::ARPHRD_ARCNET => Dlt::ARCNET_LINUX,
        libc::ARPHRD_CAN => Dlt::CAN_SOCKETCAN,
        ARPHRD_NETLINK => Dlt::NETLINK,
        _ => return None,
    })
}

/// An open capture on one interface.
pub struct Capture {
    fd: OwnedFd,
    ifindex: i32,
    loopback: bool,
    dlt: Dlt,
    cooked: bool,
    snaplen: u32,
    buf: Vec<u8>,
    userland_filter: Option<Vec<Insn>>,
}

/// `setsockopt` with a plain value.
fn set_option<T>(fd: i32, level: i32, name: i32, value: &T) -> io::Result<()> {
    // SAFETY: `value` points to a live `T` and the length passed is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            level,
            name,
            (value as *const T).cast(),
            std::mem::size_of::<T>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(io::Error::last_os_error())
    }
}

/// Attaches `prog` to the socket; `Err` carries the OS error.
fn attach(fd: i32, prog: &[Insn]) -> io::Result<()> {
    let mut filter: Vec<libc::sock_filter> = prog
        .iter()
        .map(|i| libc::sock_filter {
            code: i.code,
            jt: i.jt,
            jf: i.jf,
            k: i.k,
        })
        .collect();
    let len =
        u16::try_from(filter.len()).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    let fprog = libc::sock_fprog {
        len,
        filter: filter.as_mut_ptr(),
    };
    set_option(fd, libc::SOL_SOCKET, libc::SO_ATTACH_FILTER, &fprog)
}

const REJECT_ALL: [Insn; 1] = [Insn::stmt(op::RET_K, 0)];
const ACCEPT_ALL: [Insn; 1] = [Insn::stmt(op::RET_K, u32::MAX)];

impl Capture {
    /// Opens a capture on `interface` (e.g. `"lo"`, `"eth0"`); needs
    /// `CAP_NET_RAW`. Captures everything until [`set_filter`](Self::set_filter).
    pub fn open(interface: &str, config: &LiveConfig) -> Result<Capture, LiveError> {
        let name =
            CString::new(interface).map_err(|_| LiveError::NoSuchInterface(interface.into()))?;
        // SAFETY: `name` is a valid NUL-terminated string.
        let ifindex = unsafe { libc::if_nametoindex(name.as_ptr()) };
        if ifindex == 0 {
            return Err(LiveError::NoSuchInterface(interface.into()));
        }
        let arphrd = hardware_type(interface)?;
        let dlt = arphrd_to_dlt(arphrd);
        let cooked = dlt.is_none();
        let kind = if cooked {
            libc::SOCK_DGRAM
        } else {
            libc::SOCK_RAW
        };
        // Protocol 0: nothing is queued before bind() names the protocol,
        // by which time the reject-all filter is in place.
        // SAFETY: plain socket creation; the result is checked.
        let raw = unsafe { libc::socket(libc::AF_PACKET, kind | libc::SOCK_CLOEXEC, 0) };
        if raw < 0 {
            return Err(os_error("socket(AF_PACKET)"));
        }
        // SAFETY: `raw` is a fresh descriptor owned by nobody else.
        let fd = unsafe { OwnedFd::from_raw_fd(raw) };
        attach(raw, &REJECT_ALL).map_err(os("SO_ATTACH_FILTER"))?;
        // SAFETY: sockaddr_ll is plain data; zero is a valid value.
        let mut addr: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        addr.sll_family = libc::AF_PACKET as u16;
        addr.sll_protocol = (libc::ETH_P_ALL as u16).to_be();
        addr.sll_ifindex = ifindex as i32;
        // SAFETY: `addr` is a valid sockaddr_ll and its size is passed.
        let rc = unsafe {
            libc::bind(
                raw,
                (&addr as *const libc::sockaddr_ll).cast(),
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(os_error("bind(AF_PACKET)"));
        }
        let on: libc::c_int = 1;
        set_option(raw, libc::SOL_SOCKET, libc::SO_TIMESTAMPNS, &on)
            .map_err(os("SO_TIMESTAMPNS"))?;
        if config.promiscuous {
            // SAFETY: packet_mreq is plain data.
            let mut mreq: libc::packet_mreq = unsafe { std::mem::zeroed() };
            mreq.mr_ifindex = ifindex as i32;
            mreq.mr_type = libc::PACKET_MR_PROMISC as u16;
            set_option(raw, libc::SOL_PACKET, libc::PACKET_ADD_MEMBERSHIP, &mreq)
                .map_err(os("PACKET_ADD_MEMBERSHIP"))?;
        }
        let snaplen = config.snaplen.max(1);
        let mut capture = Capture {
            fd,
            ifindex: ifindex as i32,
            loopback: arphrd == libc::ARPHRD_LOOPBACK,
            dlt: dlt.unwrap_or(Dlt::LINUX_SLL),
            cooked,
            snaplen,
            buf: vec![0; snaplen as usize + SLL_HDR_LEN],
            userland_filter: None,
        };
        capture.set_filter(&ACCEPT_ALL)?;
        Ok(capture)
    }

    /// The link type of captured packets.
    pub fn dlt(&self) -> Dlt {
        self.dlt
    }

    /// The snapshot length.
    pub fn snaplen(&self) -> u32 {
        self.snaplen
    }

    /// Replaces the filter. No packet received before this call is returned
    /// after it. Returns where the filter runs.
    pub fn set_filter(&mut self, prog: &[Insn]) -> Result<FilterPlacement, LiveError> {
        let fd = self.fd.as_raw_fd();
        attach(fd, &REJECT_ALL).map_err(os("SO_ATTACH_FILTER"))?;
        self.drain()?;
        let in_kernel = !self.cooked && attach(fd, prog).is_ok();
        if in_kernel {
            self.userland_filter = None;
            Ok(FilterPlacement::Kernel)
        } else {
            attach(fd, &ACCEPT_ALL).map_err(os("SO_ATTACH_FILTER"))?;
            self.userland_filter = Some(prog.to_vec());
            Ok(FilterPlacement::Userland)
        }
    }

    /// Reads and drops every queued packet.
    fn drain(&mut self) -> Result<(), LiveError> {
        let mut byte = [0u8; 1];
        loop {
            // SAFETY: receives at most 1 byte into `byte`.
            let n = unsafe {
                libc::recv(
                    self.fd.as_raw_fd(),
                    byte.as_mut_ptr().cast(),
                    1,
                    libc::MSG_DONTWAIT | libc::MSG_TRUNC,
                )
            };
            if n < 0 {
                let e = io::Error::last_os_error();
                return match e.kind() {
                    io::ErrorKind::WouldBlock => Ok(()),
                    io::ErrorKind::Interrupted => continue,
                    _ => Err(os("recv")(e)),
                };
            }
        }
    }

    /// The next packet that passes the filter, or `None` when `timeout`
    /// passes first.
    pub fn next_packet(&mut self, timeout: Duration) -> Result<Option<LivePacket<'_>>, LiveError> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if !self.wait_readable(left)? {
                return Ok(None);
            }
            let Some(meta) = self.receive()? else {
                continue;
            };
            // Libpcap's rule: on loopback every packet also shows up as
            // outgoing; keep only the incoming copy.
            if self.loopback && meta.pkttype == libc::PACKET_OUTGOING {
                continue;
            }
            let mut caplen = meta.caplen;
            if let Some(prog) = &self.userland_filter {
                let verdict = bpfkit_cbpf::run(prog, &self.buf[..caplen as usize], meta.wirelen);
                if verdict == 0 {
                    continue;
                }
                caplen = caplen.min(verdict);
            }
            return Ok(Some(LivePacket {
                ts: meta.ts,
                caplen,
                wirelen: meta.wirelen,
                pkttype: meta.pkttype,
                data: &self.buf[..caplen as usize],
            }));
        }
    }

    /// Waits until a packet is queued; false on timeout.
    fn wait_readable(&self, timeout: Duration) -> Result<bool, LiveError> {
        let mut pfd = libc::pollfd {
            fd: self.fd.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        };
        let ms = timeout.as_millis().min(i32::MAX as u128) as i32;
        // SAFETY: one valid pollfd.
        let n = unsafe { libc::poll(&mut pfd, 1, ms) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                return Ok(true); // let the caller retry
            }
            return Err(os("poll")(e));
        }
        Ok(n > 0)
    }

    /// Receives one packet into `buf` (after room for a cooked header).
    fn receive(&mut self) -> Result<Option<Received>, LiveError> {
        let offset = if self.cooked { SLL_HDR_LEN } else { 0 };
        let room = self.snaplen as usize - offset.min(self.snaplen as usize);
        // SAFETY: plain-data structures, zero-initialised.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        let mut control = [0u64; 16];
        let mut iov = libc::iovec {
            iov_base: self.buf[offset..].as_mut_ptr().cast(),
            iov_len: room,
        };
        // SAFETY: msghdr is plain data; every pointer set below is valid
        // for the duration of the recvmsg call.
        let mut msg: libc::msghdr = unsafe { std::mem::zeroed() };
        msg.msg_name = (&mut from as *mut libc::sockaddr_ll).cast();
        msg.msg_namelen = std::mem::size_of::<libc::sockaddr_ll>() as u32;
        msg.msg_iov = &mut iov;
        msg.msg_iovlen = 1;
        msg.msg_control = control.as_mut_ptr().cast();
        msg.msg_controllen = std::mem::size_of_val(&control);
        // SAFETY: see above; MSG_TRUNC makes the result the full length.
        let n = unsafe {
            libc::recvmsg(
                self.fd.as_raw_fd(),
                &mut msg,
                libc::MSG_TRUNC | libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted => Ok(None),
                _ => Err(os("recvmsg")(e)),
            };
        }
        if from.sll_ifindex != self.ifindex {
            return Ok(None);
        }
        let ts = timestamp(&msg).unwrap_or_else(now);
        let mut wirelen = n as u32;
        let mut caplen = (n as usize).min(room);
        if self.cooked {
            write_cooked_header(&mut self.buf[..SLL_HDR_LEN], &from);
            wirelen += SLL_HDR_LEN as u32;
            caplen += SLL_HDR_LEN;
        }
        Ok(Some(Received {
            ts,
            caplen: (caplen as u32).min(self.snaplen),
            wirelen,
            pkttype: from.sll_pkttype,
        }))
    }
}

struct Received {
    ts: Timestamp,
    caplen: u32,
    wirelen: u32,
    pkttype: u8,
}

/// The interface's `ARPHRD_*` type (`SIOCGIFHWADDR`).
fn hardware_type(interface: &str) -> Result<u16, LiveError> {
    // SAFETY: plain socket creation; the result is checked.
    let raw = unsafe { libc::socket(libc::AF_INET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(os_error("socket(AF_INET)"));
    }
    // SAFETY: `raw` is a fresh descriptor.
    let fd = unsafe { OwnedFd::from_raw_fd(raw) };
    // SAFETY: ifreq is plain data.
    let mut req: libc::ifreq = unsafe { std::mem::zeroed() };
    let name = interface.as_bytes();
    if name.len() >= req.ifr_name.len() {
        return Err(LiveError::NoSuchInterface(interface.into()));
    }
    for (dst, &src) in req.ifr_name.iter_mut().zip(name) {
        *dst = src as libc::c_char;
    }
    // SAFETY: SIOCGIFHWADDR reads and writes one ifreq.
    if unsafe { libc::ioctl(fd.as_raw_fd(), libc::SIOCGIFHWADDR, &mut req) } != 0 {
        return Err(os_error("SIOCGIFHWADDR"));
    }
    // SAFETY: SIOCGIFHWADDR filled the hwaddr member of the union.
    Ok(unsafe { req.ifr_ifru.ifru_hwaddr.sa_family })
}

/// libpcap's cooked header: packet type, hardware type, address length and
/// address, protocol; all big-endian.
fn write_cooked_header(out: &mut [u8], from: &libc::sockaddr_ll) {
    out.fill(0);
    out[0..2].copy_from_slice(&u16::from(from.sll_pkttype).to_be_bytes());
    out[2..4].copy_from_slice(&from.sll_hatype.to_be_bytes());
    out[4..6].copy_from_slice(&u16::from(from.sll_halen).to_be_bytes());
    let halen = usize::from(from.sll_halen).min(8);
    out[6..6 + halen].copy_from_slice(&from.sll_addr[..halen]);
    // sll_protocol is already in network order.
    out[14..16].copy_from_slice(&from.sll_protocol.to_ne_bytes());
}

/// The `SCM_TIMESTAMPNS` control message, if present.
fn timestamp(msg: &libc::msghdr) -> Option<Timestamp> {
    // SAFETY: `msg` was filled by recvmsg; the CMSG macros walk its control
    // buffer within msg_controllen.
    unsafe {
        let mut cmsg = libc::CMSG_FIRSTHDR(msg);
        while !cmsg.is_null() {
            if (*cmsg).cmsg_level == libc::SOL_SOCKET && (*cmsg).cmsg_type == libc::SCM_TIMESTAMPNS
            {
                let ts: libc::timespec = std::ptr::read_unaligned(libc::CMSG_DATA(cmsg).cast());
                return Some(Timestamp {
                    sec: ts.tv_sec,
                    frac: ts.tv_nsec as u64,
                    units_per_sec: 1_000_000_000,
                });
            }
            cmsg = libc::CMSG_NXTHDR(msg, cmsg);
        }
    }
    None
}

fn now() -> Timestamp {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Timestamp {
        sec: d.as_secs() as i64,
        frac: d.subsec_nanos().into(),
        units_per_sec: 1_000_000_000,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hardware_types_map_like_libpcap() {
        assert_eq!(arphrd_to_dlt(libc::ARPHRD_LOOPBACK), Some(Dlt::EN10MB));
        assert_eq!(arphrd_to_dlt(libc::ARPHRD_NONE), Some(Dlt::RAW));
        assert_eq!(arphrd_to_dlt(libc::ARPHRD_PPP), None); // cooked
        assert_eq!(
            arphrd_to_dlt(libc::ARPHRD_IEEE80211_RADIOTAP),
            Some(Dlt::IEEE802_11_RADIO)
        );
    }

    #[test]
    fn cooked_header_layout() {
        // SAFETY: sockaddr_ll is plain data.
        let mut from: libc::sockaddr_ll = unsafe { std::mem::zeroed() };
        from.sll_pkttype = 4;
        from.sll_hatype = 512;
        from.sll_halen = 6;
        from.sll_addr = [1, 2, 3, 4, 5, 6, 7, 8];
        from.sll_protocol = 0x0800u16.to_be();
        let mut out = [0xffu8; 16];
        write_cooked_header(&mut out, &from);
        assert_eq!(out, [0, 4, 2, 0, 0, 6, 1, 2, 3, 4, 5, 6, 0, 0, 0x08, 0x00]);
    }
}
