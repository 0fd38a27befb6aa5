/* A program for `bpfkit run OBJ.o --mem ...`: r1 = memory, r2 = its length.
 * Returns a weighted byte sum (a bpf-to-bpf call per byte), scaled by a .rodata constant,
 * and counts its runs in an array map. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} runs SEC(".maps");

const volatile __u64 scale = 3;

static __attribute__((noinline)) __u64 weigh(__u8 byte, __u64 pos)
{
	return (__u64)byte * (pos + 1);
}

SEC("socket")
int weighted_sum(unsigned char *mem, unsigned long len)
{
	__u64 sum = 0;
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&runs, &zero);

	if (count)
		__sync_fetch_and_add(count, 1);
	for (unsigned long i = 0; i < len && i < 64; i++)
		sum += weigh(mem[i], i);
	return sum * scale;
}

char LICENSE[] SEC("license") = "GPL";
