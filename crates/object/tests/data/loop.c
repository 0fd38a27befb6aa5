// Loops: a bounded loop kept as a loop, and a bpf_loop() callback passed
// as a function pointer (ld_imm64 to a subprogram).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__type(key, __u32);
	__type(value, __u64);
	__uint(max_entries, 16);
} loop_vals SEC(".maps");

static long add_slot(__u32 index, void *ctx)
{
	__u64 *sum = ctx;
	__u64 *v = bpf_map_lookup_elem(&loop_vals, &index);
	if (v)
		*sum += *v;
	return 0;
}

SEC("xdp")
int sum_loop(struct xdp_md *ctx)
{
	__u64 total = 0;
#pragma clang loop unroll(disable)
	for (__u32 i = 0; i < 16; i++) {
		__u32 k = i;
		__u64 *v = bpf_map_lookup_elem(&loop_vals, &k);
		if (v)
			total += *v;
	}
	bpf_loop(16, add_slot, &total, 0);
	return total > 100 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
