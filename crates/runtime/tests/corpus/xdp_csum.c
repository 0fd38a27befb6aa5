/* bpf_csum_diff: full IPv4 header checksums, incremental updates with from/to/seed
 * combinations, and the size errors. Rewrites TTL and fixes the checksum. */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, __s64); } sums SEC(".maps");

static __always_inline void put(__u32 k, __s64 v)
{
	__s64 *p = bpf_map_lookup_elem(&sums, &k);
	if (p)
		*p = *p * 33 + v;
}

static __always_inline __u16 fold(__s64 s)
{
	__u32 c = (__u32)s;
	c = (c & 0xffff) + (c >> 16);
	c = (c & 0xffff) + (c >> 16);
	return ~c;
}

SEC("xdp")
int xdp_csum(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 proto;
	int off = l3_offset(data, data_end, &proto);
	if (off != 14 || proto != ETH_P_IP)
		return XDP_PASS;
	struct iphdr *ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	__u32 words[5];
	__builtin_memcpy(words, ip, 20);
	__s64 full = bpf_csum_diff(0, 0, words, 20, 0);
	put(0, full);
	put(1, fold(full));
	__u32 old = words[2];
	__u32 new = old ^ bpf_htonl(0x01000000);
	put(2, bpf_csum_diff(&old, 4, &new, 4, 0));
	put(3, bpf_csum_diff(&old, 4, 0, 0, 0x1234));
	put(4, bpf_csum_diff(0, 0, &new, 4, ~0u));
	put(5, bpf_csum_diff(&old, 2, &new, 4, 0));
	put(6, bpf_csum_diff(&old, 4, &old, 4, 0));
	put(7, bpf_csum_diff(0, 0, 0, 0, 77));
	/* Decrement TTL and fix the header checksum incrementally. */
	__u16 old_word = *(__u16 *)((void *)ip + 8);
	ip->ttl--;
	__u16 new_word = *(__u16 *)((void *)ip + 8);
	__u32 acc = (__u16)~ip->check + (__u16)~old_word + new_word;
	acc = (acc & 0xffff) + (acc >> 16);
	acc = (acc & 0xffff) + (acc >> 16);
	ip->check = ~acc;
	return fold(full) == 0 ? XDP_TX : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
