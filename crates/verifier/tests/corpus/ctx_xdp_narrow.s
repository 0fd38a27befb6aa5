# type: xdp
# expect: reject "invalid bpf_context access off=0 size=1"
# kernel: reject "invalid bpf_context access off=0 size=1"
r0 = *(u8 *)(r1 + 0)
exit
