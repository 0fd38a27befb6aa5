// type: tc
// expect: accept
// Sends the packet length to user space through a ring buffer.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
    __uint(type, BPF_MAP_TYPE_RINGBUF);
    __uint(max_entries, 4096);
} events SEC(".maps");

struct event {
    __u32 len;
    __u32 ifindex;
};

SEC("tc")
int report(struct __sk_buff *skb)
{
    struct event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
    if (!e)
        return 0;
    e->len = skb->len;
    e->ifindex = skb->ifindex;
    bpf_ringbuf_submit(e, 0);
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
