// Global data: .data, .rodata, .bss, a custom .data.stats section and a
// string literal in the mergeable .rodata.str1.1 section.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

__u64 packets = 0;                 /* .bss */
__u64 threshold = 1000;            /* .data */
__u32 seen[4] = {};                /* .bss */
const volatile __u32 verbose = 1;  /* .rodata */
const char banner[] = "bpfkit";     /* .rodata */
__u64 stats_hits SEC(".data.stats") = 5;

SEC("xdp")
int global_data(struct xdp_md *ctx)
{
	packets++;
	seen[packets & 3] = (__u32)packets;
	if (packets > threshold) {
		stats_hits++;
		if (verbose)
			bpf_trace_printk("over threshold %d\n", sizeof("over threshold %d\n"),
					 (int)packets);
		return XDP_DROP;
	}
	if (banner[0] != 'b')
		return XDP_ABORTED;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
