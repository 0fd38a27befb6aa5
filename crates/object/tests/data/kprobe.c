// kprobe/kretprobe pair timing a kernel function, keyed by thread id in an
// LRU_HASH map, with a latency histogram in an ARRAY map.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} start_ns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 32);
	__type(key, __u32);
	__type(value, __u64);
} latency_hist SEC(".maps");

SEC("kprobe/do_sys_openat2")
int open_enter(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 now = bpf_ktime_get_ns();
	bpf_map_update_elem(&start_ns, &tid, &now, BPF_ANY);
	return 0;
}

SEC("kretprobe/do_sys_openat2")
int open_exit(void *ctx)
{
	__u32 tid = (__u32)bpf_get_current_pid_tgid();
	__u64 *t0 = bpf_map_lookup_elem(&start_ns, &tid);
	if (!t0)
		return 0;
	__u64 delta = (bpf_ktime_get_ns() - *t0) / 1000;
	__u32 slot = 0;
	while (delta > 1 && slot < 31) {
		delta >>= 1;
		slot++;
	}
	__u64 *cnt = bpf_map_lookup_elem(&latency_hist, &slot);
	if (cnt)
		__sync_fetch_and_add(cnt, 1);
	bpf_map_delete_elem(&start_ns, &tid);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x060c00;
