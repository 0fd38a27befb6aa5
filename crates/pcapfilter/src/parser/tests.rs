//! Parser unit tests: precedence, qualifier inheritance, and rejections
//! that match libpcap's grammar (the expected acceptance of each case was
//! checked against `tcpdump -d`).

use super::parse;
use crate::ast::{Arith, ArithOp, Expr, LogicOp, ValueKind};
use crate::qual::{AddrKind, Proto};

fn ok(s: &str) -> Expr {
    parse(s)
        .unwrap_or_else(|e| panic!("{s}: {e}"))
        .expect("non-empty")
}

#[test]
fn and_or_are_left_associative_with_equal_precedence() {
    let Expr::Chain { rest, .. } = ok("tcp or udp and icmp") else {
        panic!()
    };
    assert_eq!(
        rest.iter().map(|(op, _)| *op).collect::<Vec<_>>(),
        vec![LogicOp::Or, LogicOp::And]
    );
}

#[test]
fn bare_values_inherit_qualifiers() {
    let Expr::Chain { rest, .. } = ok("tcp port 80 or 443") else {
        panic!()
    };
    let Expr::Value(v) = &rest[0].1 else { panic!() };
    assert_eq!(v.qual.proto, Proto::Tcp);
    assert_eq!(v.qual.addr, AddrKind::Port);
    assert_eq!(v.kind, ValueKind::Num(443));
    // A parenthesized expression passes on what preceded it.
    let Expr::Chain { rest, .. } = ok("host 1 or (tcp) or 2") else {
        panic!()
    };
    let Expr::Value(v) = &rest[1].1 else { panic!() };
    assert_eq!(v.qual.addr, AddrKind::Host);
}

#[test]
fn modulo_takes_everything_to_its_right() {
    let Expr::Relation { lhs, .. } = ok("len % 3 + 1 = 0") else {
        panic!()
    };
    let Arith::Chain { first, rest } = lhs else {
        panic!()
    };
    assert_eq!(*first, Arith::Len);
    assert_eq!(rest.len(), 1);
    assert_eq!(rest[0].0, ArithOp::Mod);
    assert!(matches!(&rest[0].2, Arith::Chain { rest, .. } if rest[0].0 == ArithOp::Add));
}

#[test]
fn accepts_what_libpcap_accepts() {
    for s in [
        "host 1 or (tcp) or 2",
        "host ((1))",
        "host (not (1 or 2) or 3)",
        "host 1 and not 2",
        "host 1 and (2) = 2",
        "tcp[13] & tcp-syn != 0",
        "ip src and dst 1.2.3.4",
        "vlan (1)",
        "ether host 001122334455",
        "not not tcp",
        "-len % 3 = 1",
        "type mgt subtype beacon",
        "llc rnr",
    ] {
        ok(s);
    }
}

#[test]
fn rejects_what_libpcap_rejects() {
    for s in [
        "host 1 and ((2 or 3) or 4)",
        "host ((1 or 2))",
        "not 1",
        "src or 1.2.3.4",
        "1.2.3.4",
        "tcp or",
        "port",
        "(tcp",
        "tcp)",
        "len + 1",
        "ip[1:2",
    ] {
        assert!(parse(s).is_err(), "{s} should be rejected");
    }
}

#[test]
fn errors_name_the_position() {
    let e = parse("tcp and and udp").unwrap_err().to_string();
    assert!(e.starts_with("1:9:"), "{e}");
}
