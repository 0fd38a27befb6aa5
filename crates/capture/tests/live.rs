//! Live capture on the loopback interface (needs root): a kernel filter
//! passes exactly the matching UDP datagrams, and replacing a filter lets
//! no packet accepted by the old one through.

#![cfg(target_os = "linux")]

use bpfkit_capture::live::{Capture, FilterPlacement, LiveConfig, LiveError};
use bpfkit_capture::Dlt;
use bpfkit_cbpf::{op, Insn};
use std::net::UdpSocket;
use std::time::{Duration, Instant};

/// `udp dst port PORT` on Ethernet-framed IPv4 with a 20-byte IP header,
/// written by hand (it is what tcpdump compiles, minus the fragment and
/// header-length handling).
fn udp_dst_port(port: u16) -> Vec<Insn> {
    vec![
        Insn::stmt(op::LD_H_ABS, 12),
        Insn::jump(op::JMP_JEQ_K, 0x0800, 0, 5),
        Insn::stmt(op::LD_B_ABS, 23),
        Insn::jump(op::JMP_JEQ_K, 17, 0, 3),
        Insn::stmt(op::LD_H_ABS, 36),
        Insn::jump(op::JMP_JEQ_K, port.into(), 0, 1),
        Insn::stmt(op::RET_K, 262_144),
        Insn::stmt(op::RET_K, 0),
    ]
}

/// Opens a capture on `lo`, or explains why the test must be skipped.
fn open_lo() -> Option<Capture> {
    match Capture::open("lo", &LiveConfig::default()) {
        Ok(c) => Some(c),
        Err(LiveError::Os { source, what })
            if source.kind() == std::io::ErrorKind::PermissionDenied =>
        {
            eprintln!("skipping: {what} needs root (CAP_NET_RAW)");
            None
        }
        Err(e) => panic!("cannot capture on lo: {e}"),
    }
}

/// UDP destination ports of the packets captured within `window`.
fn captured_ports(capture: &mut Capture, window: Duration) -> Vec<(u16, Vec<u8>)> {
    let end = Instant::now() + window;
    let mut ports = Vec::new();
    while let Some(p) = capture
        .next_packet(end.saturating_duration_since(Instant::now()))
        .unwrap()
    {
        assert_eq!(p.caplen as usize, p.data.len());
        if p.data.len() >= 42 && p.data[12..14] == [8, 0] && p.data[23] == 17 {
            let port = u16::from_be_bytes([p.data[36], p.data[37]]);
            ports.push((port, p.data[42..].to_vec()));
        }
    }
    ports
}

fn send(to: u16, payload: &[u8]) {
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    sock.send_to(payload, ("127.0.0.1", to)).unwrap();
}

#[test]
fn kernel_filter_passes_only_matching_datagrams() {
    let Some(mut capture) = open_lo() else { return };
    assert_eq!(capture.dlt(), Dlt::EN10MB);
    // Receivers, so that no ICMP port-unreachable adds noise.
    let wanted = UdpSocket::bind("127.0.0.1:0").unwrap();
    let other = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (wanted_port, other_port) = (
        wanted.local_addr().unwrap().port(),
        other.local_addr().unwrap().port(),
    );
    assert_eq!(
        capture.set_filter(&udp_dst_port(wanted_port)).unwrap(),
        FilterPlacement::Kernel
    );
    for i in 0..5u8 {
        send(wanted_port, &[b'w', i]);
        send(other_port, &[b'o', i]);
    }
    let got = captured_ports(&mut capture, Duration::from_millis(500));
    // Each datagram exactly once (loopback's outgoing copy is dropped), in order.
    let expected: Vec<_> = (0..5u8).map(|i| (wanted_port, vec![b'w', i])).collect();
    assert_eq!(got, expected);
}

#[test]
fn replacing_a_filter_drops_what_the_old_one_queued() {
    let Some(mut capture) = open_lo() else { return };
    let a = UdpSocket::bind("127.0.0.1:0").unwrap();
    let b = UdpSocket::bind("127.0.0.1:0").unwrap();
    let (port_a, port_b) = (
        a.local_addr().unwrap().port(),
        b.local_addr().unwrap().port(),
    );
    capture.set_filter(&udp_dst_port(port_a)).unwrap();
    // Queued under the old filter and never read.
    for i in 0..3u8 {
        send(port_a, &[b'a', i]);
    }
    std::thread::sleep(Duration::from_millis(50));
    capture.set_filter(&udp_dst_port(port_b)).unwrap();
    send(port_a, b"a-late");
    send(port_b, b"b-1");
    let got = captured_ports(&mut capture, Duration::from_millis(500));
    assert_eq!(got, vec![(port_b, b"b-1".to_vec())]);
}

#[test]
fn userland_filter_when_the_kernel_refuses_the_program() {
    let Some(mut capture) = open_lo() else { return };
    let sock = UdpSocket::bind("127.0.0.1:0").unwrap();
    let port = sock.local_addr().unwrap().port();
    // A backward jump (as libpcap's protochain emits; unreachable here)
    // makes the kernel refuse the program; it then runs in this process.
    let mut prog = udp_dst_port(port);
    prog.push(Insn::stmt(op::JMP_JA, (-2i32) as u32));
    prog.push(Insn::stmt(op::RET_K, 0));
    assert!(bpfkit_cbpf::validate(&prog).is_err());
    assert_eq!(
        capture.set_filter(&prog).unwrap(),
        FilterPlacement::Userland
    );
    send(port, b"x");
    send(port.wrapping_add(1), b"y");
    let got = captured_ports(&mut capture, Duration::from_millis(500));
    assert_eq!(got, vec![(port, b"x".to_vec())]);
}

#[test]
fn unknown_interface_is_an_error() {
    let err = Capture::open("no-such-if0", &LiveConfig::default())
        .err()
        .unwrap();
    assert!(matches!(err, LiveError::NoSuchInterface(_)), "{err}");
}
