/* A bounded loop the verifiers walk iteration by iteration (the counter decides the exit):
 * about 600,000 instructions processed. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int long_loop(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;
	unsigned char *end = (void *)(long)ctx->data_end;
	__u64 acc = 0;

	for (__u32 i = 0; i < 60000; i++) {
		unsigned char *p = data + (i & 63);
		if (p + 1 > end)
			break;
		acc = acc * 31 + *p;
	}
	return acc & 3;
}

char LICENSE[] SEC("license") = "GPL";
