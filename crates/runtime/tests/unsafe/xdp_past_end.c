/* Deliberately unsafe: the load's offset comes from a packet byte and is never checked
 * against data_end. The verifier must refuse it; run unverified with a first byte of 0xff it
 * reads 16 KiB past the packet, which the interpreter stops with a memory fault. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_past_end(struct xdp_md *ctx)
{
	unsigned char *data = (unsigned char *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;

	if ((void *)(data + 1) > data_end)
		return XDP_DROP;
	return data[data[0] * 64] == 0 ? XDP_PASS : XDP_DROP;
}

char LICENSE[] SEC("license") = "GPL";
