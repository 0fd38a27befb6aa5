// type: socket_filter
// expect: accept
// Accepts at most 64 bytes of each packet, using a legacy packet load.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

unsigned long long load_byte(void *skb, unsigned long long off) asm("llvm.bpf.load.byte");

SEC("socket")
int trim(struct __sk_buff *skb)
{
    if (load_byte(skb, 0) == 0xff)
        return 0;
    return skb->len < 64 ? skb->len : 64;
}

char LICENSE[] SEC("license") = "GPL";
