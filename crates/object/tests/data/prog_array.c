// Tail calls through a PROG_ARRAY whose slot 1 is initialized with a
// program (`.values`), plus a socket program in a named section.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int tail_target(struct __sk_buff *skb)
{
	return 42;
}

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, int (void *));
} jump_table SEC(".maps") = {
	.values = { [1] = (void *)&tail_target },
};

SEC("socket")
int tail_entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jump_table, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
