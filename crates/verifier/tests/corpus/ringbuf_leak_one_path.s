# type: socket_filter
# map: ringbuf
# expect: reject "Unreleased reference id="
# kernel: reject "BPF_EXIT instruction in main prog would lead to reference leak"
r6 = *(u32 *)(r1 + 0)
ld_pseudo r1, 5, 0
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
if r6 == 0 goto out
r1 = r0
r2 = 0
call 132
out:
r0 = 0
exit
