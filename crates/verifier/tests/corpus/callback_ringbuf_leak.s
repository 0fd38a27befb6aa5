# type: socket_filter
# map: ringbuf
# expect: reject "Unreleased reference id="
# (not loaded into the kernel: callbacks need BTF func_info; the C corpus has loaded versions)
# A record reserved in a callback must be released before the callback returns.
r1 = 1
ld_pseudo r2, 4, 6
r3 = 0
r4 = 0
call 181
r0 = 0
exit
ld_pseudo r1, 5, 0
r2 = 8
r3 = 0
call 131
if r0 == 0 goto out
r1 = 7
*(u64 *)(r0 + 0) = r1
out:
r0 = 0
exit
