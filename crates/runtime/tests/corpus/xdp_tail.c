/* Tail calls through a program array initialised with .values: dispatch by protocol,
 * a chain, an empty slot, an out-of-range index, the 33-call limit, and a target whose
 * helper calls back into it (bpf_loop: the callback is the target's, not the caller's). */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 6); __type(key, __u32); __type(value, __u32); } hops SEC(".maps");

static __always_inline void hop(__u32 k)
{
	__u32 *v = bpf_map_lookup_elem(&hops, &k);
	if (v)
		*v += 1;
}

int xdp_ip(struct xdp_md *ctx);
int xdp_ip6(struct xdp_md *ctx);
int xdp_loop(struct xdp_md *ctx);
int xdp_looped(struct xdp_md *ctx);

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 8);
	__type(key, __u32);
	__array(values, int (struct xdp_md *));
} jump SEC(".maps") = {
	.values = { [0] = (void *)&xdp_ip, [1] = (void *)&xdp_ip6, [2] = (void *)&xdp_loop, [3] = (void *)&xdp_looped },
};

SEC("xdp")
int xdp_ip(struct xdp_md *ctx)
{
	hop(0);
	return 100;
}

SEC("xdp")
int xdp_ip6(struct xdp_md *ctx)
{
	hop(1);
	/* Slot 5 is empty: the call falls through. */
	bpf_tail_call(ctx, &jump, 5);
	return 106;
}

SEC("xdp")
int xdp_loop(struct xdp_md *ctx)
{
	hop(2);
	bpf_tail_call(ctx, &jump, 2);
	return 120;
}

SEC("xdp")
int xdp_dispatch(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 proto;
	hop(3);
	int off = l3_offset(data, data_end, &proto);
	if (off < 0)
		return XDP_PASS;
	if (proto == ETH_P_IP)
		bpf_tail_call(ctx, &jump, 0);
	else if (proto == ETH_P_IPV6)
		bpf_tail_call(ctx, &jump, 1);
	else if (proto == ETH_P_ARP)
		bpf_tail_call(ctx, &jump, 2);
	else
		bpf_tail_call(ctx, &jump, 100);
	return XDP_DROP;
}

static long loop_step(__u32 i, void *data)
{
	hop(4);
	return 0;
}

SEC("xdp")
int xdp_looped(struct xdp_md *ctx)
{
	bpf_loop(3, loop_step, 0, 0);
	return 130;
}

SEC("xdp")
int xdp_to_looped(struct xdp_md *ctx)
{
	hop(5);
	bpf_tail_call(ctx, &jump, 3);
	return XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
