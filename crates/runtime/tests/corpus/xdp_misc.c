/* Helpers without maps or packets: bpf_spin_lock, bpf_strncmp, bpf_probe_read_kernel
 * (success, and -EFAULT with a zeroed destination), bpf_trace_printk's return value,
 * bpf_get_smp_processor_id, monotonic clocks. */
#include "common.h"

struct locked { struct bpf_spin_lock lock; __u32 packets; __u64 bytes; };
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 1); __type(key, __u32); __type(value, struct locked); } acct SEC(".maps");
struct { __uint(type, BPF_MAP_TYPE_ARRAY); __uint(max_entries, 8); __type(key, __u32); __type(value, __s64); } res SEC(".maps");

static __always_inline void put(__u32 k, __s64 v)
{
	__s64 *p = bpf_map_lookup_elem(&res, &k);
	if (p)
		*p = v;
}

const char get_str[] = "GET ";
const char post_str[] = "POST";

SEC("xdp")
int xdp_misc(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 len = data_end - data;
	__u32 zero = 0;
	struct locked *l = bpf_map_lookup_elem(&acct, &zero);
	if (l) {
		bpf_spin_lock(&l->lock);
		l->packets++;
		l->bytes += len;
		bpf_spin_unlock(&l->lock);
	}
	char word[8] = {};
	if (data + 54 + 5 <= data_end)
		__builtin_memcpy(word, data + 54, 5);
	long is_get = bpf_strncmp(word, 4, get_str);
	long is_post = bpf_strncmp(word, 4, post_str);
	__u64 src = 0x1122334455667788ull, dst = 0;
	long ok = bpf_probe_read_kernel(&dst, 8, &src);
	__u64 junk = 0xffff;
	long bad = bpf_probe_read_kernel(&junk, 8, (void *)16);
	long printed = bpf_printk("len %u get %ld", len, is_get);
	__u64 t1 = bpf_ktime_get_ns(), t2 = bpf_ktime_get_ns();
	__u64 b1 = bpf_ktime_get_boot_ns();
	put(0, is_get);
	put(1, is_post);
	put(2, ok == 0 && dst == src);
	put(3, bad);
	put(4, junk);
	put(5, printed);
	put(6, bpf_get_smp_processor_id());
	put(7, t2 >= t1 && b1 > 0);
	return (int)(is_get == 0 ? 1000 : is_post == 0 ? 2000 : 3000 + is_get);
}

char LICENSE[] SEC("license") = "GPL";
