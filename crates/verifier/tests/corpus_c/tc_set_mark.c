// type: tc
// expect: accept
// Marks long packets.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("tc")
int set_mark(struct __sk_buff *skb)
{
    if (skb->len > 1000)
        skb->mark = 0x42;
    skb->cb[0] = skb->protocol;
    return 0;
}

char LICENSE[] SEC("license") = "GPL";
