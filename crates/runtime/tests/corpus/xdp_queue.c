/* Queue, stack and bloom filter maps. */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_QUEUE); __uint(max_entries, 5); __type(value, __u32); } lens SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_STACK); __uint(max_entries, 4); __type(value, __u64); } recent SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_BLOOM_FILTER); __uint(max_entries, 32); __type(value, __u32); __uint(map_extra, 3); } seen SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, __s64); } notes SEC(".maps");

static __always_inline void note(__u32 k, __s64 v)
{
	__s64 *p = bpf_map_lookup_elem(&notes, &k);
	if (p)
		*p = (*p << 8) ^ (v & 0xff);
}

SEC("xdp")
int xdp_queue(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	/* Queue full: -E2BIG without BPF_EXIST; with it the oldest is replaced. */
	long r = bpf_map_push_elem(&lens, &len, 0);
	note(0, r);
	if (r)
		note(1, bpf_map_push_elem(&lens, &len, BPF_EXIST));
	__u64 stamp = ((__u64)len << 32) | 7;
	note(2, bpf_map_push_elem(&recent, &stamp, BPF_EXIST));
	__u32 head = 0;
	if (len % 3 == 0) {
		note(3, bpf_map_pop_elem(&lens, &head));
		note(4, head);
	} else {
		note(3, bpf_map_peek_elem(&lens, &head));
	}
	__u64 top = 0;
	if (len % 5 == 0)
		note(5, bpf_map_pop_elem(&recent, &top));
	__u16 proto;
	int off = l3_offset(data, data_end, &proto);
	if (off < 0 || proto != ETH_P_IP)
		return XDP_PASS;
	struct iphdr *ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	__u32 src = ip->saddr, dst = ip->daddr;
	long dst_seen = bpf_map_peek_elem(&seen, &dst);
	bpf_map_push_elem(&seen, &src, 0);
	note(6, dst_seen);
	return dst_seen == 0 ? 3 : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
