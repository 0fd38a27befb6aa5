// Many program section kinds and map attributes (LPM trie with
// BPF_F_NO_PREALLOC, pinning by name, QUEUE without key) in one object.
// Not loaded into the kernel as a whole (attach targets vary by kernel).
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct lpm_key {
	__u32 prefixlen;
	__u8 addr[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 128);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct lpm_key);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} routes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 32);
	__type(value, __u64);
} pending SEC(".maps");

SEC("perf_event") int on_perf(void *ctx) { return 0; }
SEC("raw_tp/sched_switch") int on_raw_tp(void *ctx) { return 0; }
SEC("raw_tracepoint.w/sched_switch") int on_raw_tp_w(void *ctx) { return 0; }
SEC("tp_btf/sched_switch") int on_tp_btf(void *ctx) { return 0; }
SEC("fentry/do_unlinkat") int on_fentry(void *ctx) { return 0; }
SEC("fexit/do_unlinkat") int on_fexit(void *ctx) { return 0; }
SEC("fentry.s/do_unlinkat") int on_fentry_s(void *ctx) { return 0; }
SEC("uprobe//bin/bash:readline") int on_uprobe(void *ctx) { return 0; }
SEC("uretprobe/libc.so.6:malloc") int on_uretprobe(void *ctx) { return 0; }
SEC("tracepoint/sched/sched_switch") int on_tp(void *ctx) { return 0; }
SEC("tp/sched/sched_wakeup") int on_tp_short(void *ctx) { return 0; }
SEC("xdp.frags") int on_xdp_frags(void *ctx) { return 2; }
SEC("xdp/devmap") int on_xdp_devmap(void *ctx) { return 2; }
SEC("tcx/ingress") int on_tcx(void *ctx) { return 0; }
SEC("cgroup/connect4") int on_connect4(void *ctx) { return 1; }
SEC("cgroup/sock_create") int on_sock_create(void *ctx) { return 1; }
SEC("lsm/file_open") int on_lsm(void *ctx) { return 0; }
SEC("sk_skb/stream_verdict") int on_sk_skb(void *ctx) { return 0; }
SEC("sockops") int on_sockops(void *ctx) { return 0; }
SEC("ksyscall/openat") int on_ksyscall(void *ctx) { return 0; }

SEC("kprobe/do_unlinkat")
int use_maps(void *ctx)
{
	struct lpm_key k = { .prefixlen = 32, .addr = { 10, 0, 0, 1 } };
	__u64 v = 1;
	bpf_map_lookup_elem(&routes, &k);
	bpf_map_push_elem(&pending, &v, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
