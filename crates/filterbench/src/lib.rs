//! Benchmarks of packet filtering: `bpfkit filter` against `tcpdump`, and
//! bpfkit's filter engines against libpcap's `bpf_filter`.
//!
//! The library holds what the two benchmark programs share:
//! - [`mix`] and [`rng`]: a deterministic, realistic mix of Ethernet frames
//!   (VLAN, IPv4, IPv6, TCP, UDP, ICMP, ARP and more; 60 to 1514 bytes, about
//!   500 on average), and [`generate`] to write it to a pcap file once;
//! - [`programs`]: the expressions measured and their compiled programs;
//! - [`libpcap`]: libpcap's own interpreter, loaded at run time;
//! - [`timing`]: CPU-time clocks and min/median summaries.
//!
//! The benchmarks (`cargo bench -p bpfkit-filterbench`) are `throughput`
//! (whole commands on a 2-million-packet capture) and `filter_cost` (the
//! engines alone on packets in memory); `filterbench-gen` writes a capture.
//!
//! ```
//! use bpfkit_filterbench::mix::Mix;
//! let mut mix = Mix::new(42);
//! let mut frame = Vec::new();
//! let t0 = mix.next_frame(&mut frame);
//! assert!((60..=1514).contains(&frame.len()));
//! let t1 = mix.next_frame(&mut frame);
//! assert!(t1 >= t0, "time stamps never go back");
//! // The same seed gives the same frames.
//! let mut again = Mix::new(42);
//! let mut first = Vec::new();
//! again.next_frame(&mut first);
//! assert_eq!(again.next_frame(&mut Vec::new()), t1);
//! ```
#![deny(missing_docs)]

pub mod generate;
pub mod libpcap;
pub mod mix;
pub mod programs;
pub mod rng;
pub mod timing;
