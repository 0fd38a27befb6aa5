/* Ring buffer: output, reserve/submit, reserve/discard, query. */
#include "common.h"

struct { __uint(type, BPF_MAP_TYPE_RINGBUF); __uint(max_entries, 4096); } events SEC(".maps");
struct event { __u32 len; __u16 proto; __u8 first[10]; };

SEC("xdp")
int xdp_ringbuf(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	if (data + 14 > data_end)
		return XDP_PASS;
	struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return 10;
	e->len = len;
	e->proto = ((struct ethhdr *)data)->h_proto;
	__builtin_memcpy(e->first, data, 10);
	if (len & 1)
		bpf_ringbuf_discard(e, 0);
	else
		bpf_ringbuf_submit(e, 0);
	__u64 summary[2] = { len, 0xabcdef };
	long r = bpf_ringbuf_output(&events, summary, sizeof(summary), 0);
	/* Too large for the ring. */
	void *big = bpf_ringbuf_reserve(&events, 8192, 0);
	if (big) {
		bpf_ringbuf_discard(big, 0);
		return 11;
	}
	__u64 avail = bpf_ringbuf_query(&events, BPF_RB_AVAIL_DATA);
	__u64 size = bpf_ringbuf_query(&events, BPF_RB_RING_SIZE);
	return (int)(r == 0 ? (avail << 16) | (size >> 8) : 12);
}

char LICENSE[] SEC("license") = "GPL";
