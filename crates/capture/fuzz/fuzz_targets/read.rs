//! The reader never panics or loops on any input, consumes input for every
//! record, and what it reads can be written back.
#![no_main]

use bpfkit_capture::{PcapWriter, Reader};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(mut reader) = Reader::new(data) else {
        return;
    };
    let header = reader.savefile_header();
    let mut writer = PcapWriter::new(Vec::new(), &header).ok();
    let mut last = reader.offset();
    loop {
        match reader.next_record() {
            Ok(Some(rec)) => {
                assert_eq!(rec.caplen as usize, rec.data.len());
                if let Some(w) = writer.as_mut() {
                    w.write_record(&rec).unwrap();
                }
            }
            Ok(None) => break,
            Err(e) => {
                assert!(e.offset <= data.len() as u64);
                break;
            }
        }
        assert!(reader.offset() > last, "a record consumed no input");
        last = reader.offset();
    }
    assert!(reader.next_record().unwrap().is_none());
});
