/* Array of maps and hash of maps: select an inner counter map by IP protocol. */
#include "common.h"

struct inner { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); };
struct inner in_tcp SEC(".maps"), in_udp SEC(".maps"), in_other SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 3);
	__type(key, __u32);
	__array(values, struct inner);
} by_proto SEC(".maps") = {
	.values = { [0] = &in_tcp, [1] = &in_udp },
};

struct hinner { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, __u32); };
struct hinner h_small SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct hinner);
} by_size SEC(".maps");

SEC("xdp")
int xdp_mapinmap(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	__u16 proto;
	int off = l3_offset(data, data_end, &proto);
	if (off < 0 || proto != ETH_P_IP)
		return XDP_PASS;
	struct iphdr *ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	__u32 slot = ip->protocol == IPPROTO_TCP ? 0 : ip->protocol == IPPROTO_UDP ? 1 : 2;
	void *inner = bpf_map_lookup_elem(&by_proto, &slot);
	if (!inner)
		return 50 + slot;
	__u32 k = len % 4;
	__u64 *c = bpf_map_lookup_elem(inner, &k);
	if (c)
		*c += len;
	__u32 hk = len / 100;
	void *h = bpf_map_lookup_elem(&by_size, &hk);
	return h ? 60 : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
