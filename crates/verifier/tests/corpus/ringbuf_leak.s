# type: socket_filter
# map: ringbuf
# expect: reject "Unreleased reference id="
# kernel: reject "BPF_EXIT instruction in main prog would lead to reference leak"
ld_pseudo r1, 5, 0
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
r1 = 5
*(u64 *)(r0 + 0) = r1
out:
r0 = 0
exit
