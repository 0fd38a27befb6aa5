/* Packet bounds: adjust_head (pop a VLAN tag, push an outer header), adjust_tail
 * (trim to 64 bytes, grow by 16), adjust_meta (metadata written then read back). */
#include "common.h"

SEC("xdp")
int xdp_pop_vlan(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	if ((void *)(eth + 1) + 4 > data_end)
		return XDP_PASS;
	if (eth->h_proto != bpf_htons(ETH_P_8021Q_))
		return XDP_PASS;
	struct vlan_hdr_ *v = (void *)(eth + 1);
	__be16 inner = v->proto;
	struct ethhdr copy = *eth;
	copy.h_proto = inner;
	if (bpf_xdp_adjust_head(ctx, 4))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	data_end = (void *)(long)ctx->data_end;
	eth = data;
	if ((void *)(eth + 1) > data_end)
		return XDP_ABORTED;
	*eth = copy;
	return XDP_TX;
}

SEC("xdp")
int xdp_push(struct xdp_md *ctx)
{
	/* Prepend 8 bytes (a fake shim) before the Ethernet header; the largest legal
	 * move is probed first and must fail. */
	long big = bpf_xdp_adjust_head(ctx, -256);
	if (bpf_xdp_adjust_head(ctx, -8))
		return XDP_ABORTED;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	if (data + 22 > data_end)
		return XDP_ABORTED;
	__builtin_memcpy(data, data + 8, 12);
	((__u8 *)data)[12] = 0x88;
	((__u8 *)data)[13] = 0xb5;
	((__u8 *)data)[14] = 0xbe;
	((__u8 *)data)[15] = 0xef;
	((__u8 *)data)[16] = (__u8)(-big);
	((__u8 *)data)[17] = 0;
	((__u8 *)data)[18] = 0;
	((__u8 *)data)[19] = 0;
	((__u8 *)data)[20] = ((__u8 *)data)[20];
	return XDP_PASS;
}

SEC("xdp")
int xdp_trim(struct xdp_md *ctx)
{
	int len = ctx->data_end - ctx->data;
	if (len > 64 && bpf_xdp_adjust_tail(ctx, 64 - len))
		return XDP_ABORTED;
	/* Shrinking below 14 bytes must fail and leave the packet alone. */
	if (bpf_xdp_adjust_tail(ctx, -60) == 0)
		return XDP_ABORTED;
	return XDP_PASS;
}

SEC("xdp")
int xdp_grow(struct xdp_md *ctx)
{
	int old = (ctx->data_end - ctx->data) & 0xfff;
	if (bpf_xdp_adjust_tail(ctx, 16))
		return XDP_ABORTED;
	/* Past the end of the frame must fail. */
	if (bpf_xdp_adjust_tail(ctx, 4096) == 0)
		return XDP_ABORTED;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u8 *tail = data + old;
	if ((void *)(tail + 16) > data_end)
		return XDP_ABORTED;
	/* The grown bytes must read as zero; stamp the first one. */
	int nonzero = 0;
	for (int i = 0; i < 16; i++)
		nonzero |= tail[i];
	tail[0] = 0xab;
	return nonzero ? XDP_ABORTED : XDP_PASS;
}

SEC("xdp")
int xdp_meta(struct xdp_md *ctx)
{
	long e1 = bpf_xdp_adjust_meta(ctx, -6);     /* not a multiple of 4 */
	long e2 = bpf_xdp_adjust_meta(ctx, -300);   /* beyond the headroom */
	if (bpf_xdp_adjust_meta(ctx, -8))
		return XDP_ABORTED;
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 *meta = (void *)(long)ctx->data_meta;
	if ((void *)(meta + 2) > data)
		return XDP_ABORTED;
	meta[0] = 0xfeedc0de;
	meta[1] = (__u32)(data_end - data);
	long e3 = bpf_xdp_adjust_meta(ctx, -36);
	return (int)((-e1) | ((-e2) << 8) | ((-e3) << 16));
}

SEC("xdp")
int xdp_head_meta(struct xdp_md *ctx)
{
	/* Metadata moves with data on adjust_head. */
	if (bpf_xdp_adjust_meta(ctx, -4))
		return XDP_ABORTED;
	__u32 *meta = (void *)(long)ctx->data_meta;
	void *data = (void *)(long)ctx->data;
	if ((void *)(meta + 1) > data)
		return XDP_ABORTED;
	*meta = 0x11223344;
	if (bpf_xdp_adjust_head(ctx, 14))
		return 1000;
	meta = (void *)(long)ctx->data_meta;
	data = (void *)(long)ctx->data;
	if ((void *)(meta + 1) > data)
		return XDP_ABORTED;
	return *meta == 0x11223344 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
