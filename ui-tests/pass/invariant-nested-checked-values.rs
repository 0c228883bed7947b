use fixpoint::{invariant, invariant::Checked};

#[invariant(!self.name.is_empty(), "a person has a name")]
#[derive(Debug, Clone)]
pub struct Person {
    name: String,
}

/// A team holds checked people: its own rule can rely on theirs.
#[invariant(self.members.len() <= 3, "a team has at most three members")]
#[invariant(self.members.iter().all(|m| m.name() != self.lead.name()), "the lead is not also a member")]
#[derive(Debug, Clone)]
pub struct Team {
    lead: Checked<Person>,
    members: Vec<Checked<Person>>,
}

fn person(name: &str) -> Checked<Person> {
    Checked::new(Person { name: name.to_owned() }).unwrap()
}

fn main() {
    assert!(Checked::new(Person { name: String::new() }).is_err());
    let mut team = Checked::new(Team { lead: person("ada"), members: vec![person("bo")] }).unwrap();
    assert!(team.modify(|t| t.members.push(person("ada"))).is_err());
    team.modify(|t| t.members.push(person("cy"))).unwrap();
    assert_eq!(team.members().len(), 2);
}
