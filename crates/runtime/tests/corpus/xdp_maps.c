/* Hash, per-CPU array/hash, LRU hash and LPM trie maps keyed by packet fields. */
#include "common.h"

struct flow { __u32 src, dst; __u16 sport, dport; __u8 proto, pad[3]; };
struct stats { __u64 packets, bytes; };

struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 8); __type(key, __u32); __type(value, struct stats); } by_src SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } pcpu_len SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_PERCPU_HASH); __uint(max_entries, 16); __type(key, __u16); __type(value, __u32); } pcpu_proto SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_LRU_HASH); __uint(max_entries, 64); __type(key, struct flow); __type(value, __u64); } flows SEC(".maps");
struct lpm_key { __u32 prefixlen; __u32 addr; };
struct { __uint(type, BPF_MAP_TYPE_LPM_TRIE); __uint(max_entries, 8); __type(key, struct lpm_key); __type(value, __u32); __uint(map_flags, BPF_F_NO_PREALLOC); } routes SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 4); __type(key, __u32); __type(value, __s64); } results SEC(".maps");

static __always_inline void record(__u32 k, __s64 v)
{
	bpf_map_update_elem(&results, &k, &v, BPF_ANY);
}

SEC("xdp")
int xdp_maps(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	__u32 bucket = len < 64 ? 0 : len < 128 ? 1 : len < 1024 ? 2 : 3;
	__u64 *pl = bpf_map_lookup_elem(&pcpu_len, &bucket);
	if (pl)
		*pl += len;
	__u16 proto;
	int off = l3_offset(data, data_end, &proto);
	if (off < 0)
		return XDP_PASS;
	__u32 one = 1, *pc = bpf_map_lookup_elem(&pcpu_proto, &proto);
	if (pc)
		__sync_fetch_and_add(pc, 1);
	else
		bpf_map_update_elem(&pcpu_proto, &proto, &one, BPF_NOEXIST);
	if (proto != ETH_P_IP)
		return XDP_PASS;
	struct iphdr *ip = data + off;
	if ((void *)(ip + 1) > data_end)
		return XDP_PASS;
	struct stats *st = bpf_map_lookup_elem(&by_src, &ip->saddr);
	if (st) {
		st->packets++;
		st->bytes += len;
	} else {
		struct stats init = { 1, len };
		/* A full table reports E2BIG; remember the first error. */
		long err = bpf_map_update_elem(&by_src, &ip->saddr, &init, BPF_NOEXIST);
		if (err)
			record(1, err);
	}
	/* Updating an existing key with NOEXIST fails with EEXIST. */
	struct stats dummy = {};
	if (st)
		record(2, bpf_map_update_elem(&by_src, &ip->saddr, &dummy, BPF_NOEXIST));
	__u32 missing = 0xffffffff;
	record(3, bpf_map_delete_elem(&by_src, &missing));

	struct flow f = { .src = ip->saddr, .dst = ip->daddr, .proto = ip->protocol };
	if (ip->protocol == IPPROTO_TCP || ip->protocol == IPPROTO_UDP) {
		struct udphdr *u = (void *)ip + ip->ihl * 4;
		if ((void *)(u + 1) <= data_end) {
			f.sport = u->source;
			f.dport = u->dest;
		}
	}
	__u64 *fc = bpf_map_lookup_elem(&flows, &f);
	if (fc)
		*fc += 1;
	else {
		__u64 first = 100;
		bpf_map_update_elem(&flows, &f, &first, BPF_ANY);
	}

	struct lpm_key k = { 8, bpf_htonl(0x0a000000) };
	__u32 v = 8;
	bpf_map_update_elem(&routes, &k, &v, BPF_ANY);
	k.prefixlen = 24; k.addr = bpf_htonl(0x0a000000); v = 24;
	bpf_map_update_elem(&routes, &k, &v, BPF_ANY);
	k.prefixlen = 16; k.addr = bpf_htonl(0xc0a80000); v = 16;
	bpf_map_update_elem(&routes, &k, &v, BPF_ANY);
	k.prefixlen = 0; k.addr = 0; v = 99;
	if (len > 1000)
		bpf_map_update_elem(&routes, &k, &v, BPF_ANY);
	struct lpm_key q = { 32, ip->daddr };
	__u32 *route = bpf_map_lookup_elem(&routes, &q);
	return route ? (int)*route : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
