/* Bounded loops, bpf_loop callbacks, bpf_for_each_map_elem over array and hash. */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } arr SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_HASH); __uint(max_entries, 16); __type(key, __u32); __type(value, __u64); } hsh SEC(".maps");

struct loop_ctx { __u64 sum; __u32 limit; __u32 stop_at; };

static long step(__u64 i, void *c)
{
	struct loop_ctx *lc = c;
	lc->sum = lc->sum * 31 + i;
	if (i == lc->stop_at)
		return 1;
	return 0;
}

struct walk_ctx { __u64 sum; __u32 count; };

static long visit(void *map, __u32 *key, __u64 *val, struct walk_ctx *w)
{
	w->sum += *key * 1000 + *val;
	w->count++;
	*val += 1;
	return 0;
}

SEC("xdp")
int xdp_loops(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	/* A bounded byte loop: xor of the first 64 bytes. */
	__u8 x = 0;
	for (int i = 0; i < 64; i++) {
		__u8 *p = data + i;
		if ((void *)(p + 1) > data_end)
			break;
		x ^= *p;
	}
	struct loop_ctx lc = { .sum = x, .stop_at = len % 13 };
	long n = bpf_loop(len % 40, step, &lc, 0);
	long bad = bpf_loop(1, step, &lc, 1);
	__u32 k = len % 16;
	__u64 v = lc.sum;
	bpf_map_update_elem(&arr, &k, &v, BPF_ANY);
	bpf_map_update_elem(&hsh, &k, &v, BPF_ANY);
	struct walk_ctx w = {};
	long visited = bpf_for_each_map_elem(&arr, visit, &w, 0);
	struct walk_ctx h = {};
	long hv = bpf_for_each_map_elem(&hsh, visit, &h, 0);
	return (int)((n & 0xff) | ((-bad & 0xff) << 8) | ((visited + hv) << 16)) ^ (int)(w.sum + h.sum + w.count + h.count);
}

char LICENSE[] SEC("license") = "GPL";
