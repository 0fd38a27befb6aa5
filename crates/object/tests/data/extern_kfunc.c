// A call to a kernel function (kfunc) declared __ksym: resolved against kernel
// BTF by libbpf at load time. bpfkit-object does not resolve externs and must
// report the symbol instead of producing a wrong program.
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

extern void bpf_rcu_read_lock(void) __ksym;
extern void bpf_rcu_read_unlock(void) __ksym;

SEC("tp/syscalls/sys_enter_getpid")
int use_kfunc(void *ctx)
{
	bpf_rcu_read_lock();
	bpf_rcu_read_unlock();
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
