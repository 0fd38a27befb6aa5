/* Parses Ethernet/VLAN/IPv4/IPv6/TCP/UDP/ICMP, counts packets per class in an array,
 * drops telnet and IPv4 TTL <= 1, returns XDP_PASS otherwise. */
#include "common.h"

enum { C_OTHER, C_ARP, C_IP4, C_IP6, C_TCP, C_UDP, C_ICMP, C_VLAN, C_SHORT, C_MAX };

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, C_MAX);
	__type(key, __u32);
	__type(value, __u64);
} classes SEC(".maps");

static __always_inline void count(__u32 c)
{
	__u64 *v = bpf_map_lookup_elem(&classes, &c);
	if (v)
		*v += 1;
}

SEC("xdp")
int xdp_parse(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 proto;
	int off = l3_offset(data, data_end, &proto);
	if (off < 0) {
		count(C_SHORT);
		return XDP_ABORTED;
	}
	if (off > (int)sizeof(struct ethhdr))
		count(C_VLAN);
	if (proto == ETH_P_ARP) {
		count(C_ARP);
		return XDP_PASS;
	}
	__u8 l4;
	void *l4h;
	if (proto == ETH_P_IP) {
		struct iphdr *ip = data + off;
		if ((void *)(ip + 1) > data_end) {
			count(C_SHORT);
			return XDP_DROP;
		}
		count(C_IP4);
		if (ip->ttl <= 1)
			return XDP_DROP;
		l4 = ip->protocol;
		l4h = (void *)ip + ip->ihl * 4;
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = data + off;
		if ((void *)(ip6 + 1) > data_end) {
			count(C_SHORT);
			return XDP_DROP;
		}
		count(C_IP6);
		l4 = ip6->nexthdr;
		l4h = ip6 + 1;
	} else {
		count(C_OTHER);
		return XDP_PASS;
	}
	if (l4 == IPPROTO_TCP) {
		struct tcphdr *t = l4h;
		if ((void *)(t + 1) > data_end) {
			count(C_SHORT);
			return XDP_DROP;
		}
		count(C_TCP);
		if (t->dest == bpf_htons(23))
			return XDP_DROP;
	} else if (l4 == IPPROTO_UDP) {
		count(C_UDP);
	} else if (l4 == IPPROTO_ICMP || l4 == IPPROTO_ICMPV6) {
		count(C_ICMP);
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
