/* A long straight-line program: 512 unrolled bounds-checked byte reads (about 3,000
 * instructions, one path). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int unrolled_sum(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;
	__u64 sum = 0;

#pragma clang loop unroll(full)
	for (int i = 0; i < 512; i++) {
		if (data + i + 1 > end)
			break;
		sum = sum * 31 + data[i];
	}
	return sum & 3;
}

char LICENSE[] SEC("license") = "GPL";
