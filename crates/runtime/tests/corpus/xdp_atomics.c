/* Atomic operations on map values: add, or, and, xor (with and without fetch), xchg,
 * cmpxchg, 32 and 64 bits. */
#include "common.h"

struct vals { __u64 a, b, c, d; __u32 e, f, g, h; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct vals); } v SEC(".maps");

SEC("xdp")
int xdp_atomics(struct xdp_md *ctx)
{
	__u32 len = ctx->data_end - ctx->data;
	__u32 zero = 0;
	struct vals *p = bpf_map_lookup_elem(&v, &zero);
	if (!p)
		return XDP_ABORTED;
	__u64 old_a = __sync_fetch_and_add(&p->a, len);
	__sync_fetch_and_or(&p->b, 1ull << (len % 64));
	__u64 old_c = __sync_fetch_and_xor(&p->c, (__u64)len * 0x9e3779b97f4a7c15ull);
	__u64 old_d = __sync_lock_test_and_set(&p->d, old_a ^ old_c);
	__u32 old_e = __sync_val_compare_and_swap(&p->e, len % 2 ? 0 : p->e, len);
	__sync_fetch_and_and(&p->f, ~(1u << (len % 32)));
	__u32 old_g = __sync_fetch_and_add(&p->g, 1);
	__sync_fetch_and_xor(&p->h, len);
	if (old_g == 0)
		p->f = 0xffffffff;
	return (int)(old_d ^ old_e ^ old_g) & 0x7fffffff;
}

char LICENSE[] SEC("license") = "GPL";
