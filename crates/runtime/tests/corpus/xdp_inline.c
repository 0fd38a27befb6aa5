/* Array lookups that bpfkit's JIT computes inline (as the kernel's verifier rewrites them),
 * whose value pointers then go to helpers that read and write through them
 * (bpf_map_update_elem from a value, bpf_csum_diff over one), and a lookup whose map is
 * chosen by a branch (not provably one map: it stays a helper call). */
#include "common.h"

struct val { __u32 a, b, c; }; /* 12 bytes: values 16 bytes apart */
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, struct val); } vals SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 4); __type(key, __u32); __type(value, __u64); } sums SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, struct val); } copies SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u64); } evens SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 2); __type(key, __u32); __type(value, __u64); } odds SEC(".maps");

SEC("xdp")
int xdp_inline(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *p = data;
	if (data + 20 > data_end)
		return XDP_ABORTED;
	__u32 len = data_end - data;
	/* Keys 0..9: 8 and 9 are out of range. */
	__u32 k = (p[19] ^ len) % 10;
	__u32 z = 0, one = 1;
	struct val *v = bpf_map_lookup_elem(&vals, &k);
	if (!v) {
		__u64 *miss = bpf_map_lookup_elem(&sums, &one);
		if (miss)
			*miss += 1;
		return XDP_DROP;
	}
	v->a += 1;
	v->b ^= p[14] | (__u32)p[15] << 8;
	v->c += len;
	/* The helper reads the value through the pointer the inline lookup gave. */
	bpf_map_update_elem(&copies, &k, v, BPF_ANY);
	/* An array updated from a value of itself: key k+1 gets key k's value. */
	__u32 next = (k + 1) & 7;
	bpf_map_update_elem(&vals, &next, v, BPF_ANY);
	__s64 csum = bpf_csum_diff(0, 0, (__be32 *)v, sizeof(*v), 0);
	__u64 *sum = bpf_map_lookup_elem(&sums, &z);
	if (sum)
		*sum += (__u32)csum;
	/* The map depends on the packet: both reach one call site. */
	void *m = (p[13] & 1) ? (void *)&odds : (void *)&evens;
	__u64 *c = bpf_map_lookup_elem(m, &one);
	if (c)
		*c += len;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
