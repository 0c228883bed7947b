use fixpoint::{terminal_state, Lifecycle, Tracked};

mod domain {
    use fixpoint::terminal_state;

    #[terminal_state(module = states)]
    pub(crate) enum Order {
        #[initial] #[to(Paid, Cancelled)] Placed,
        #[to(Shipped, Cancelled)]         Paid,
        #[terminal]                       Shipped,
        #[terminal] #[abandoned]          Cancelled,
    }

    #[terminal_state]
    pub(super) enum Type {
        #[initial] #[to(Move)] Match,
        #[terminal] #[abandoned] Move,
    }
}

use domain::{states, Order, OrderTransitions};

fn main() {
    let order: Tracked<Order, states::Paid, u32> = Tracked::<Order, _, _>::new(10).to_paid();
    assert_eq!(order.to_shipped().state().name(), "Shipped");

    #[terminal_state]
    enum Local {
        #[initial] #[to(B)] A,
        #[terminal] #[abandoned] B,
    }
    assert_eq!(Tracked::<Local, _, _>::new(()).to_b().state(), Local::B.state());

    use domain::TypeTransitions;
    let _ = Tracked::<domain::Type, domain::r#type::Match, _>::new(()).to_move();
}
