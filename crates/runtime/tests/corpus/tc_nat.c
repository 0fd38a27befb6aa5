/* Destination NAT in tc: rewrite IPv4 destination and TCP/UDP port with
 * bpf_skb_store_bytes and fix the checksums with bpf_l3_csum_replace and
 * bpf_l4_csum_replace (pseudo header); error cases of the helpers are recorded. */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, __s64); } errs SEC(".maps");

static __always_inline void note(__u32 k, __s64 v)
{
	__s64 *p = bpf_map_lookup_elem(&errs, &k);
	if (p)
		*p = (*p << 6) ^ v;
}

#define IP_DST_OFF (ETH_HLEN + 16)
#define IP_CSUM_OFF (ETH_HLEN + 10)

SEC("tc")
int tc_nat(struct __sk_buff *skb)
{
	void *data = (void *)(long)skb->data;
	void *data_end = (void *)(long)skb->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = (void *)(eth + 1);
	note(0, bpf_l3_csum_replace(skb, 1, 0, 0, 0));
	note(1, bpf_l3_csum_replace(skb, 0x10000, 0, 0, 0));
	note(2, bpf_l4_csum_replace(skb, 0, 0, 0, 1 << 9));
	__u8 scratch[4] = { 1, 2, 3, 4 };
	note(3, bpf_skb_store_bytes(skb, 0, scratch, 1, 4));
	note(4, bpf_skb_store_bytes(skb, skb->len - 2, scratch, 4, 0));
	data = (void *)(long)skb->data;
	data_end = (void *)(long)skb->data_end;
	eth = data;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > data_end || eth->h_proto != bpf_htons(ETH_P_IP) || ip->ihl != 5)
		return TC_ACT_OK;
	__u8 proto = ip->protocol;
	__be32 old_dst = ip->daddr;
	__be32 new_dst = bpf_htonl(0xc0a86401);
	int l4_csum_off = ETH_HLEN + 20 + (proto == IPPROTO_TCP ? 16 : 6);
	int l4_port_off = ETH_HLEN + 20 + 2;
	if (proto == IPPROTO_TCP || proto == IPPROTO_UDP) {
		__u16 csum_ok = 0;
		if (bpf_skb_load_bytes(skb, l4_csum_off, &csum_ok, 2) < 0)
			return 2;
		__u64 flags = BPF_F_PSEUDO_HDR | 4 | (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0);
		note(5, bpf_l4_csum_replace(skb, l4_csum_off, old_dst, new_dst, flags));
		__be16 old_port, new_port = bpf_htons(8443);
		if (bpf_skb_load_bytes(skb, l4_port_off, &old_port, 2) == 0) {
			note(6, bpf_l4_csum_replace(skb, l4_csum_off, old_port, new_port, 2 | (proto == IPPROTO_UDP ? BPF_F_MARK_MANGLED_0 : 0)));
			bpf_skb_store_bytes(skb, l4_port_off, &new_port, 2, 0);
		}
	}
	note(7, bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_dst, new_dst, 4));
	bpf_skb_store_bytes(skb, IP_DST_OFF, &new_dst, 4, BPF_F_RECOMPUTE_CSUM);
	/* A 2-byte replacement and a diff-based one on the TTL/protocol word. */
	__be16 old_ttl, new_ttl;
	if (bpf_skb_load_bytes(skb, ETH_HLEN + 8, &old_ttl, 2) == 0) {
		new_ttl = old_ttl - bpf_htons(0x0100);
		bpf_l3_csum_replace(skb, IP_CSUM_OFF, old_ttl, new_ttl, 2);
		bpf_skb_store_bytes(skb, ETH_HLEN + 8, &new_ttl, 2, 0);
		__s64 diff = bpf_csum_diff((__be32 *)&old_ttl, 0, (__be32 *)&new_ttl, 0, 0);
		bpf_l3_csum_replace(skb, IP_CSUM_OFF, 0, diff, 0);
	}
	skb->mark = new_dst;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
