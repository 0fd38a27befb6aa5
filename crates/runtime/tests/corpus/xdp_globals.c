/* Global data: .data, .rodata (a lookup table and a config), .bss; bpf-to-bpf calls. */
#include "common.h"

const volatile __u32 cfg_mult = 3;
static const __u8 weights[16] = { 1, 2, 3, 5, 8, 13, 21, 34, 55, 89, 144, 233, 121, 98, 219, 61 };
__u64 total_bytes = 1000;
__u32 last_len;
__u32 histogram[8];
char tag[8] = "bpfkit";

static __attribute__((noinline)) __u32 weigh(const __u8 *p, const __u8 *end)
{
	__u32 acc = 0;
	for (int i = 0; i < 16; i++) {
		if (p + i + 1 > end)
			break;
		acc += p[i] * weights[i];
	}
	return acc;
}

static __attribute__((noinline)) __u32 bucket(__u32 len)
{
	__u32 b = 0;
	while (len > 64 && b < 7) {
		len >>= 1;
		b++;
	}
	return b;
}

SEC("xdp")
int xdp_globals(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	total_bytes += len * cfg_mult;
	last_len = len;
	__u32 b = bucket(len);
	if (b < 8)
		histogram[b]++;
	tag[6] = '0' + (len % 10);
	return weigh(data, data_end) & 0xffff;
}

char LICENSE[] SEC("license") = "GPL";
