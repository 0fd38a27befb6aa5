#!/usr/bin/env python3
"""Writes packets.pcap: the varied traffic the differential corpus runs over.

Ethernet, 802.1Q/802.1ad VLANs, ARP, 802.3/LLC, IPv4 (options, fragments, bad checksum,
TTL 1), IPv6 (extension header), TCP, UDP, ICMP, ICMPv6, GRE, and short or malformed
frames (a runt below the Ethernet header, truncated IP and TCP headers). Deterministic:
rerunning it reproduces the file byte for byte.
"""
import struct, sys

def csum(data):
    if len(data) % 2:
        data += b"\0"
    s = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while s >> 16:
        s = (s & 0xffff) + (s >> 16)
    return (~s) & 0xffff

MAC_A = bytes.fromhex("020000000001")
MAC_B = bytes.fromhex("020000000002")
BCAST = b"\xff" * 6
MCAST = bytes.fromhex("01005e000001")
ZERO = b"\0" * 6

def eth(payload, etype, dst=MAC_B, src=MAC_A):
    return dst + src + struct.pack("!H", etype) + payload

def ipv4(payload, proto, src="10.0.0.1", dst="10.0.0.2", ttl=64, ident=1, frag=0, options=b"", bad_csum=False):
    ihl = 5 + len(options) // 4
    s = bytes(int(x) for x in src.split("."))
    d = bytes(int(x) for x in dst.split("."))
    hdr = struct.pack("!BBHHHBBH4s4s", (4 << 4) | ihl, 0, ihl * 4 + len(payload), ident, frag, ttl, proto, 0, s, d) + options
    c = csum(hdr) ^ (0x1234 if bad_csum else 0)
    hdr = hdr[:10] + struct.pack("!H", c) + hdr[12:]
    return hdr + payload

def pseudo4(src, dst, proto, length):
    return bytes(int(x) for x in src.split(".")) + bytes(int(x) for x in dst.split(".")) + struct.pack("!BBH", 0, proto, length)

def ip6addr(last):
    return bytes.fromhex("fd000000000000000000000000000000")[:15] + bytes([last])

def ipv6(payload, nh, src=1, dst=2, hlim=64):
    return struct.pack("!IHBB", 6 << 28, len(payload), nh, hlim) + ip6addr(src) + ip6addr(dst) + payload

def pseudo6(src, dst, nh, length):
    return ip6addr(src) + ip6addr(dst) + struct.pack("!IxxxB", length, nh)

def tcp(sport, dport, flags=0x02, payload=b"", pseudo=None):
    h = struct.pack("!HHIIBBHHH", sport, dport, 1000, 0, 5 << 4, flags, 65535, 0, 0) + payload
    if pseudo is not None:
        c = csum(pseudo(len(h)) + h)
        h = h[:16] + struct.pack("!H", c) + h[18:]
    return h

def udp(sport, dport, payload=b"", pseudo=None, zero_csum=False):
    h = struct.pack("!HHHH", sport, dport, 8 + len(payload), 0) + payload
    if pseudo is not None and not zero_csum:
        c = csum(pseudo(len(h)) + h) or 0xffff
        h = h[:6] + struct.pack("!H", c) + h[8:]
    return h

def icmp(typ, code, ident, seq, payload=b""):
    h = struct.pack("!BBHHH", typ, code, 0, ident, seq) + payload
    return h[:2] + struct.pack("!H", csum(h)) + h[4:]

def icmp6(typ, code, payload, src=1, dst=2):
    h = struct.pack("!BBH", typ, code, 0) + payload
    c = csum(pseudo6(src, dst, 58, len(h)) + h)
    return h[:2] + struct.pack("!H", c) + h[4:]

def v4tcp(sport, dport, flags=0x02, payload=b"", src="10.0.0.1", dst="10.0.0.2", **kw):
    return ipv4(tcp(sport, dport, flags, payload, lambda n: pseudo4(src, dst, 6, n)), 6, src, dst, **kw)

def v4udp(sport, dport, payload=b"", src="10.0.0.1", dst="10.0.0.2", zero_csum=False, **kw):
    return ipv4(udp(sport, dport, payload, lambda n: pseudo4(src, dst, 17, n), zero_csum), 17, src, dst, **kw)

def vlan(tci, etype, payload):
    return struct.pack("!HH", tci, etype) + payload

def arp(op, sha, spa, tha, tpa):
    ip = lambda a: bytes(int(x) for x in a.split("."))
    return struct.pack("!HHBBH", 1, 0x0800, 6, 4, op) + sha + ip(spa) + tha + ip(tpa)

dns_query = bytes.fromhex("123401000001000000000000076578616d706c6503636f6d0000010001")
packets = [
    eth(v4tcp(40000, 80), 0x0800),
    eth(v4tcp(40001, 23, payload=b"login"), 0x0800),
    eth(v4udp(5353, 53, dns_query, src="192.168.1.10", dst="8.8.8.8"), 0x0800),
    eth(v4udp(1234, 9999, b"zero checksum", zero_csum=True), 0x0800),
    eth(ipv4(icmp(8, 0, 0x77, 1, b"ping-payload-0123456789"), 1), 0x0800),
    eth(ipv4(icmp(0, 0, 0x77, 1, b"pong"), 1, src="10.0.0.2", dst="10.0.0.1"), 0x0800, dst=MAC_A, src=MAC_B),
    eth(ipv6(tcp(41000, 443, 0x12, b"", lambda n: pseudo6(1, 2, 6, n)), 6), 0x86dd),
    eth(ipv6(udp(5000, 53, b"v6 dns", lambda n: pseudo6(1, 2, 17, n)), 17), 0x86dd),
    eth(ipv6(icmp6(128, 0, struct.pack("!HH", 9, 1) + b"echo6"), 58), 0x86dd, dst=bytes.fromhex("333300000001")),
    eth(vlan(100, 0x0800, v4udp(7000, 7001, b"in vlan 100")), 0x8100),
    eth(vlan((3 << 13) | 200, 0x8100, vlan(300, 0x0800, v4tcp(8080, 22, 0x10))), 0x88a8),
    eth(arp(1, MAC_A, "10.0.0.1", ZERO, "10.0.0.2"), 0x0806, dst=BCAST),
    eth(arp(2, MAC_B, "10.0.0.2", MAC_A, "10.0.0.1"), 0x0806, dst=MAC_A, src=MAC_B),
    eth(ipv4(udp(1111, 2222, b"with options"), 17, options=b"\x01\x01\x01\x00"), 0x0800),
    eth(v4udp(3333, 4444, b"first fragment", frag=0x2000, ident=77), 0x0800),
    eth(v4tcp(50000, 80), 0x0800)[:30],
    eth(v4tcp(50001, 80), 0x0800)[:40],
    eth(b"", 0x0800)[:13],
    eth(b"", 0x0800),
    BCAST + MAC_A + struct.pack("!H", 0x2e) + b"\xff\xff" + bytes(44),
    bytes.fromhex("0180c2000000") + MAC_A + struct.pack("!H", 0x26) + b"\x42\x42\x03" + bytes(35),
    eth(v4udp(6000, 6001, bytes(range(256)) * 5 + bytes(172)), 0x0800),
    eth(ipv4(struct.pack("!HH", 0, 0x0800) + ipv4(b"inner", 253, "172.16.0.1", "172.16.0.2"), 47), 0x0800),
    eth(v4udp(33434, 33435, b"traceroute", ttl=1), 0x0800),
    eth(ipv6(struct.pack("!BBHI", 17, 0, 0, 0) + udp(5001, 5002, b"after hbh", lambda n: pseudo6(1, 2, 17, n)), 0), 0x86dd),
    eth(v4tcp(12345, 8080, 0x18, b"GET /index.html HTTP/1.1\r\n"), 0x0800, dst=ZERO),
    eth(v4udp(5000, 5004, b"multicast", dst="239.1.2.3"), 0x0800, dst=MCAST),
    eth(v4udp(9000, 9001, b"bad header checksum", bad_csum=True), 0x0800),
    eth(v4tcp(2000, 3000, 0x18, b"x" * 3000), 0x0800),
    eth(v4udp(7777, 8888, b"y" * 3900), 0x0800),
    eth(v4tcp(40002, 80, 0x10, b"POST /api HTTP/1.1\r\n", src="10.1.2.3", dst="10.9.8.7"), 0x0800),
    eth(v4udp(53, 5353, b"reply", src="8.8.4.4", dst="192.168.1.10"), 0x0800),
]

out = open(sys.argv[1] if len(sys.argv) > 1 else "packets.pcap", "wb")
out.write(struct.pack("<IHHiIII", 0xa1b2c3d4, 2, 4, 0, 0, 65535, 1))
for i, p in enumerate(packets):
    out.write(struct.pack("<IIII", 1700000000 + i, i * 1000, len(p), len(p)) + p)
out.close()
