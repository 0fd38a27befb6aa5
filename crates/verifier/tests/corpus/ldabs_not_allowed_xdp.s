# type: xdp
# expect: reject "BPF_LD_[ABS|IND] instructions not allowed for this program type"
# kernel: reject "BPF_LD_[ABS|IND] instructions not allowed for this program type"
r6 = r1
r0 = *(u8 *)skb[0]
exit
