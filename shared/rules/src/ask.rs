//! The facts loop, written once: decide, fetch what the rules ask for, decide again.
//!
//! [`Ask`] is the pure half: it is given each [`Verdict`] and answers either the final
//! [`Decision`] or the requests still to fetch, never one already answered, and it stops a
//! loop after [`ROUNDS`] verdicts. Fetching is the caller's: [`settle`] answers synchronously
//! (a [`World`], a test's recorder), the functions look facts up through their ports
//! (`trailguard-aws`'s `lookup.rs`), both driving this same state machine.

use crate::decision::{Decision, Verdict};
use crate::facts::{FactRequest, Facts, World};

/// Verdicts asked for at most: two rounds cover every guard (a group by name, then the
/// facts about it); the third is a guard against a loop.
pub const ROUNDS: u32 = 3;

/// The state of one decision's facts loop: the facts so far, what was handed out to fetch,
/// and how many verdicts were given.
#[derive(Debug)]
pub struct Ask {
    facts: Facts,
    answered: Vec<FactRequest>,
    rounds: u32,
    limit: u32,
}

/// What to do after a verdict.
#[derive(Debug, Clone, PartialEq)]
pub enum Next {
    /// The decision: done.
    Decided(Decision),
    /// Fetch these (none answered before, none twice), record them in [`Ask::facts_mut`],
    /// and decide again.
    Fetch(Vec<FactRequest>),
    /// The rules keep asking: stop.
    Stuck(Stuck),
}

/// Why the loop stopped without a decision.
#[derive(Debug, Clone, PartialEq)]
pub struct Stuck {
    /// What the rules asked for in the last verdict.
    pub requests: Vec<FactRequest>,
    /// Verdicts given, the last one included.
    pub rounds: u32,
    /// Whether every request had been answered already (the answers did not stick).
    pub repeated: bool,
}

impl std::fmt::Display for Stuck {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the rules kept asking for facts")?;
        if self.repeated {
            f.write_str(" already looked up")?;
        }
        write!(f, " ({} rounds): {:?}", self.rounds, self.requests)
    }
}

impl Ask {
    /// A loop starting from `facts` (`Facts::offline()`, or what the function knows about
    /// itself), bounded by [`ROUNDS`].
    pub fn new(facts: Facts) -> Ask {
        Ask {
            facts,
            answered: Vec::new(),
            rounds: 0,
            limit: ROUNDS,
        }
    }

    /// The same, with another bound on the verdicts (1: decide once, fetch nothing).
    pub fn rounds(mut self, limit: u32) -> Ask {
        self.limit = limit;
        self
    }

    /// The facts to decide with.
    pub fn facts(&self) -> &Facts {
        &self.facts
    }

    /// Where a fetcher records its answers.
    pub fn facts_mut(&mut self) -> &mut Facts {
        &mut self.facts
    }

    /// The facts, once the loop is over.
    pub fn into_facts(self) -> Facts {
        self.facts
    }

    /// Every request handed out to fetch so far, in order.
    pub fn asked(&self) -> &[FactRequest] {
        &self.answered
    }

    /// Take one verdict (decided with [`Ask::facts`]) and say what comes next.
    pub fn next(&mut self, verdict: Verdict) -> Next {
        self.rounds = self.rounds.saturating_add(1);
        let requests = match verdict {
            Verdict::Decided(d) => return Next::Decided(d),
            Verdict::NeedFacts(requests) => requests,
        };
        let mut new: Vec<FactRequest> = Vec::new();
        for r in &requests {
            if !self.answered.contains(r) && !new.contains(r) {
                new.push(r.clone());
            }
        }
        if new.is_empty() || self.rounds >= self.limit {
            return Next::Stuck(Stuck {
                repeated: new.is_empty(),
                requests,
                rounds: self.rounds,
            });
        }
        self.answered.extend(new.iter().cloned());
        Next::Fetch(new)
    }
}

/// The loop with a synchronous fetcher: `decide` with the facts so far; `answer` each new
/// request into the facts.
pub fn settle(
    ask: &mut Ask,
    mut decide: impl FnMut(&Facts) -> Verdict,
    mut answer: impl FnMut(&FactRequest, &mut Facts),
) -> Result<Decision, Stuck> {
    loop {
        match ask.next(decide(ask.facts())) {
            Next::Decided(d) => return Ok(d),
            Next::Fetch(requests) => {
                for r in &requests {
                    answer(r, ask.facts_mut());
                }
            }
            Next::Stuck(s) => return Err(s),
        }
    }
}

/// The loop answered from a [`World`], as the functions' lookups would answer in that
/// account (the CLI's `--world`, the tests' samples).
pub fn settle_in(
    world: &World,
    ask: &mut Ask,
    decide: impl FnMut(&Facts) -> Verdict,
) -> Result<Decision, Stuck> {
    settle(ask, decide, |r, facts| world.answer(r, facts))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str) -> FactRequest {
        FactRequest::AccessKeyOwner {
            access_key_id: id.into(),
        }
    }

    fn need(rs: &[FactRequest]) -> Verdict {
        Verdict::NeedFacts(rs.to_vec())
    }

    #[test]
    fn a_decision_ends_the_loop() {
        let mut ask = Ask::new(Facts::default());
        let d = Decision::ignore("nothing to do");
        assert_eq!(ask.next(Verdict::Decided(d.clone())), Next::Decided(d));
    }

    #[test]
    fn each_request_is_handed_out_once() {
        let mut ask = Ask::new(Facts::default());
        assert_eq!(
            ask.next(need(&[key("a"), key("a"), key("b")])),
            Next::Fetch(vec![key("a"), key("b")])
        );
        assert_eq!(
            ask.next(need(&[key("a"), key("c")])),
            Next::Fetch(vec![key("c")])
        );
        assert_eq!(ask.asked(), [key("a"), key("b"), key("c")]);
    }

    #[test]
    fn asking_again_for_what_was_answered_stops() {
        let mut ask = Ask::new(Facts::default());
        assert_eq!(ask.next(need(&[key("a")])), Next::Fetch(vec![key("a")]));
        let Next::Stuck(s) = ask.next(need(&[key("a")])) else {
            panic!("not stopped")
        };
        assert!(s.repeated && s.rounds == 2 && s.requests == [key("a")]);
        assert!(s.to_string().starts_with("the rules kept asking for facts"));
        // Nothing to fetch is as stuck as the same thing again.
        assert!(matches!(
            Ask::new(Facts::default()).next(need(&[])),
            Next::Stuck(Stuck { repeated: true, .. })
        ));
    }

    #[test]
    fn the_rounds_are_bounded() {
        let mut ask = Ask::new(Facts::default());
        assert!(matches!(ask.next(need(&[key("a")])), Next::Fetch(_)));
        assert!(matches!(ask.next(need(&[key("b")])), Next::Fetch(_)));
        let Next::Stuck(s) = ask.next(need(&[key("c")])) else {
            panic!("not stopped")
        };
        assert!(!s.repeated && s.rounds == ROUNDS);
        // Once: the first request already stops it.
        let mut once = Ask::new(Facts::offline()).rounds(1);
        assert!(matches!(once.next(need(&[key("a")])), Next::Stuck(_)));
    }

    #[test]
    fn settle_answers_and_decides_again() {
        let world = World {
            key_owners: [("AKIAEXAMPLE".to_string(), "alice".to_string())].into(),
            ..World::default()
        };
        let mut ask = Ask::new(Facts::default());
        let d = settle_in(&world, &mut ask, |facts| {
            match facts.key_owners.get("AKIAEXAMPLE") {
                Some(Some(owner)) => Verdict::Decided(Decision::ignore(owner.clone())),
                _ => need(&[key("AKIAEXAMPLE")]),
            }
        });
        assert_eq!(d.map(|d| d.reason), Ok("alice".to_string()));
        // An answer that never sticks ends as stuck, not as a loop.
        let mut ask = Ask::new(Facts::default());
        let stuck = settle(&mut ask, |_| need(&[key("x")]), |_, _| {});
        assert!(matches!(stuck, Err(Stuck { repeated: true, .. })));
    }
}
