# type: socket_filter
# expect: reject "combined stack size"
# kernel: reject "combined stack size of 2 calls is 576. Too large"
*(u64 *)(r10 - 512) = 0
call f
exit
f:
*(u64 *)(r10 - 64) = 0
r0 = 0
exit
