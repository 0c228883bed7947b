use fixpoint::{terminal_state, Terminal, Tracked};

#[terminal_state]
pub enum Lease {
    #[initial] #[to(Held, Expired)] Requested,
    #[to(Released, Expired)]        Held,
    #[terminal]                     Released,
    #[terminal] #[abandoned]        Expired,
}

/// A worker that owns its lease for as long as it lives.
pub struct Worker {
    pub name: String,
    lease: Tracked<Lease, lease::Held, u32>,
}

impl Worker {
    pub fn start(name: &str, slot: u32) -> Self {
        let lease = Tracked::<Lease, _, _>::new(slot).to_held();
        Worker { name: name.to_owned(), lease }
    }

    pub fn slot(&self) -> u32 {
        *self.lease
    }

    pub fn stop(self) -> Terminal<Lease, u32> {
        self.lease.to_released()
    }
}

/// A state machine inside an enum field moves through `Option::take`-free ownership.
pub enum Phase {
    Waiting(Tracked<Lease, lease::Requested, u32>),
    Working(Worker),
}

fn main() {
    let worker = Worker::start("w1", 3);
    assert_eq!(worker.slot(), 3);
    assert_eq!(worker.stop().into_value(), 3);
    let phase = Phase::Waiting(Tracked::new(4));
    let phase = match phase {
        Phase::Waiting(lease) => Phase::Working(Worker { name: "w2".into(), lease: lease.to_held() }),
        working => working,
    };
    if let Phase::Working(worker) = phase {
        assert_eq!(worker.name, "w2");
    }
}
