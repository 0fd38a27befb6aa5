/* IPv6: walk up to four extension headers with a bounded loop, decrement the hop limit,
 * swap source and destination addresses of ICMPv6 echo requests (XDP_TX). */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 256); __type(key, __u32); __type(value, __u32); } next_headers SEC(".maps");

SEC("xdp")
int xdp_ipv6(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 proto;
	int off = l3_offset(data, data_end, &proto);
	if (off < 0 || proto != ETH_P_IPV6)
		return XDP_PASS;
	struct ipv6hdr *ip6 = data + off;
	if ((void *)(ip6 + 1) > data_end)
		return XDP_DROP;
	__u8 nh = ip6->nexthdr;
	void *p = ip6 + 1;
	for (int i = 0; i < 4; i++) {
		__u32 k = nh;
		__u32 *seen = bpf_map_lookup_elem(&next_headers, &k);
		if (seen)
			*seen += 1;
		if (nh != 0 && nh != 43 && nh != 60)
			break;
		__u8 *ext = p;
		if ((void *)(ext + 2) > data_end)
			return XDP_DROP;
		nh = ext[0];
		p += (ext[1] + 1) * 8;
	}
	if (ip6->hop_limit <= 1)
		return XDP_DROP;
	ip6->hop_limit--;
	if (nh == 58) {
		__u8 *icmp = p;
		if ((void *)(icmp + 1) > data_end)
			return XDP_DROP;
		if (*icmp == 128) {
			struct in6_addr tmp = ip6->saddr;
			ip6->saddr = ip6->daddr;
			ip6->daddr = tmp;
			return XDP_TX;
		}
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
