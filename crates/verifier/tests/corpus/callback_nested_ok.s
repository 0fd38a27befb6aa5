# type: socket_filter
# expect: accept
# (not loaded into the kernel: callbacks need BTF func_info; the C corpus has loaded versions)
# A callback that runs bpf_loop itself (three frames), both rounds sharing one counter.
r1 = 0
*(u64 *)(r10 - 8) = r1
r1 = 3
ld_pseudo r2, 4, 7
r3 = r10
r3 += -8
r4 = 0
call 181
r0 = 0
exit
r1 = 2
r3 = r2
ld_pseudo r2, 4, 5
r4 = 0
call 181
r0 = 0
exit
r1 = *(u64 *)(r2 + 0)
r1 += 1
*(u64 *)(r2 + 0) = r1
r0 = 0
exit
