use fixpoint::{terminal_state, Tracked};

#[derive(Debug, Clone, PartialEq)]
pub struct Lease {
    pub holder: String,
}

#[terminal_state]
#[derive(Debug, Clone, PartialEq)]
pub enum Upload {
    #[initial] #[to(Sending, Aborted)]
    Pending,
    #[to(Sending, Verifying, Aborted)]
    Sending { sent: u64, total: u64 },
    #[to(Done, Aborted)]
    Verifying(Lease, [u8; 4]),
    #[terminal]
    Done(u64),
    #[terminal] #[abandoned]
    Aborted,
}

fn main() {
    let upload = Tracked::<Upload, _, _>::new(vec![0_u8; 8]);
    let upload = upload.to_sending(0, 8);
    assert_eq!(Tracked::data(&upload), &(0, 8));
    let upload = upload.to_sending(8, 8);
    let upload = upload.to_verifying(Lease { holder: "w1".into() }, *b"crc!");
    let (lease, checksum) = Tracked::data(&upload);
    assert_eq!((lease.holder.as_str(), checksum), ("w1", b"crc!"));
    let done = upload.to_done(8);
    assert_eq!(done.status(), &Upload::Done(8));
}
