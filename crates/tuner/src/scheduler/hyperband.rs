//! Synchronous HyperBand (Li et al., 2018) with Ray Tune's `HyperBandScheduler`
//! semantics.
//!
//! With `eta` the reduction factor, `s_max + 1 = round(log_eta(max_t)) + 1` brackets make
//! one band. Bracket `s` (0 = the least aggressive) takes
//! `n_s = ceil((s_max + 1) / (s + 1) * eta^s)` trials, in creation order, and runs
//! successive halving on them `s` times, starting at `r_s = floor(max_t * eta^-s)` iterations. A trial that reaches its
//! bracket's current milestone is paused ([`Action::Pause`]) until every live trial of
//! the bracket has reached it; then the best `ceil(n / eta)` (by their latest loss)
//! continue to the next milestone `min(r * eta, max_t)`, resumed from their checkpoints,
//! and the others stop. A filled band starts a new one.
//!
//! Differences from Ray, where Ray's behaviour depends on its eager trial creation:
//!
//! - A bracket is cut once its live trials have all reached the milestone *and* it is
//!   filled (or the runner has said that no more trials will come). The runner creates
//!   trials lazily, one per free slot, so without the second condition a bracket would be
//!   cut with the few trials that happen to have started.
//! - "Filled" counts every trial the bracket ever received, so a bracket does not take
//!   new trials after a cut.
//! - At `max_t` (the last milestone) a trial stops at once instead of pausing until its
//!   bracket finishes (Ray then stops them all; the outcome is the same).
//!
//! Trials that cannot be paused (an objective that writes no checkpoint) restart from
//! iteration 1 when resumed and run to the next milestone, as in Ray.

use super::{Action, Scheduler};
use crate::error::{Error, Result};
use std::collections::{BTreeMap, HashMap, VecDeque};

#[derive(Debug, Clone)]
struct Bracket {
    /// Planned trials.
    n0: usize,
    /// Trials to keep at the next cut.
    n: usize,
    /// Current milestone (iterations).
    r: usize,
    /// Cuts left.
    halves: usize,
    /// Trials received so far.
    added: usize,
    /// Live trials and their latest (iteration, loss).
    live: BTreeMap<usize, Option<(usize, f64)>>,
}

impl Bracket {
    fn filled(&self) -> bool {
        self.added >= self.n0
    }

    fn reached(&self, trial: usize) -> bool {
        matches!(self.live.get(&trial), Some(Some((it, _))) if *it >= self.r)
    }

    fn all_reached(&self) -> bool {
        !self.live.is_empty() && self.live.keys().all(|t| self.reached(*t))
    }
}

/// The synchronous HyperBand scheduler.
#[derive(Debug, Clone)]
pub struct HyperBand {
    eta: f64,
    max_t: usize,
    s_max_1: usize,
    brackets: Vec<Bracket>,
    /// Index of the band's next bracket (`s`).
    next_s: usize,
    /// The bracket that receives new trials.
    current: Option<usize>,
    trial_bracket: HashMap<usize, usize>,
    paused: Vec<usize>,
    to_unpause: VecDeque<usize>,
    to_stop: Vec<usize>,
    no_more_trials: bool,
}

impl HyperBand {
    /// HyperBand with reduction factor `eta` and at most `max_t` iterations per trial.
    pub fn new(max_t: usize, eta: f64) -> Result<HyperBand> {
        let key = |k: &str| format!("tune.scheduler.{k}");
        if eta.is_nan() || eta <= 1.0 {
            return Err(Error::config(
                key("reduction_factor"),
                "must be greater than 1",
            ));
        }
        if max_t == 0 {
            return Err(Error::config(key("max_t"), "must be at least 1"));
        }
        let s_max_1 = ((max_t as f64).ln() / eta.ln()).round() as usize + 1;
        Ok(HyperBand {
            eta,
            max_t,
            s_max_1,
            brackets: Vec::new(),
            next_s: 0,
            current: None,
            trial_bracket: HashMap::new(),
            paused: Vec::new(),
            to_unpause: VecDeque::new(),
            to_stop: Vec::new(),
            no_more_trials: false,
        })
    }

    /// Brackets per band (`s_max + 1`).
    pub fn brackets_per_band(&self) -> usize {
        self.s_max_1
    }

    /// Planned trials and first milestone of bracket `s` (`n_s`, `r_s`).
    pub fn bracket_size(&self, s: usize) -> (usize, usize) {
        let n = (self.s_max_1 as f64 / (s + 1) as f64 * self.eta.powi(s as i32)).ceil() as usize;
        let r = (self.max_t as f64 * self.eta.powi(-(s as i32))) as usize;
        (n, r)
    }

    /// The bracket (in creation order) that trial `trial` belongs to.
    pub fn bracket_of(&self, trial: usize) -> Option<usize> {
        self.trial_bracket.get(&trial).copied()
    }

    /// (planned trials, current milestone, live trials) of bracket `b`.
    pub fn bracket_state(&self, b: usize) -> Option<(usize, usize, Vec<usize>)> {
        self.brackets
            .get(b)
            .map(|br| (br.n0, br.r, br.live.keys().copied().collect()))
    }

    fn new_bracket(&mut self) -> usize {
        loop {
            if self.next_s >= self.s_max_1 {
                self.next_s = 0; // the band is filled: a new band
            }
            let s = self.next_s;
            self.next_s += 1;
            let (n0, r0) = self.bracket_size(s);
            if r0 == 0 {
                continue; // too small (Ray skips it too)
            }
            self.brackets.push(Bracket {
                n0,
                n: n0,
                r: r0,
                halves: s,
                added: 0,
                live: BTreeMap::new(),
            });
            return self.brackets.len() - 1;
        }
    }

    /// Cut bracket `b` if it is due. Returns the trials that continue (`Some`) when it
    /// was cut.
    fn process(&mut self, b: usize) -> Option<Vec<usize>> {
        let eta = self.eta;
        let max_t = self.max_t;
        let no_more = self.no_more_trials;
        let br = &mut self.brackets[b];
        if br.halves == 0 || !br.all_reached() || !(br.filled() || no_more) {
            return None;
        }
        br.halves -= 1;
        br.n = (br.n as f64 / eta).ceil() as usize;
        br.r = ((br.r as f64 * eta).min(max_t as f64)) as usize;
        let mut ranked: Vec<(usize, f64)> = br
            .live
            .iter()
            .map(|(t, res)| (*t, res.map_or(f64::INFINITY, |r| r.1)))
            .collect();
        // Lower loss first; ties by trial id (older first).
        ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then(a.0.cmp(&b.0)));
        let keep = br.n.min(ranked.len());
        let good: Vec<usize> = ranked[..keep].iter().map(|x| x.0).collect();
        for (t, _) in &ranked[keep..] {
            br.live.remove(t);
        }
        let bad: Vec<usize> = ranked[keep..].iter().map(|x| x.0).collect();
        for t in bad {
            if let Some(i) = self.paused.iter().position(|p| *p == t) {
                self.paused.remove(i);
                self.to_stop.push(t);
            }
        }
        for t in &good {
            if let Some(i) = self.paused.iter().position(|p| p == t) {
                self.paused.remove(i);
                self.to_unpause.push_back(*t);
            }
        }
        Some(good)
    }

    fn remove(&mut self, trial: usize) {
        if let Some(b) = self.trial_bracket.get(&trial).copied() {
            self.brackets[b].live.remove(&trial);
            self.paused.retain(|t| *t != trial);
            self.to_unpause.retain(|t| *t != trial);
            self.process(b);
        }
    }
}

impl Scheduler for HyperBand {
    fn max_iterations(&self) -> Option<usize> {
        Some(self.max_t)
    }

    fn on_trial_add(&mut self, trial: usize, _params: &crate::space::Params) {
        if self.trial_bracket.contains_key(&trial) {
            return; // a restart (resume, retry, unpause)
        }
        let b = match self.current {
            Some(b) if !self.brackets[b].filled() => b,
            _ => self.new_bracket(),
        };
        self.current = Some(b);
        let br = &mut self.brackets[b];
        br.added += 1;
        br.live.insert(trial, None);
        self.trial_bracket.insert(trial, b);
    }

    fn on_result(&mut self, trial: usize, iteration: usize, loss: f64) -> Action {
        let Some(b) = self.trial_bracket.get(&trial).copied() else {
            return Action::Continue;
        };
        let br = &mut self.brackets[b];
        if !br.live.contains_key(&trial) {
            return Action::Stop; // cut from the bracket already
        }
        br.live.insert(trial, Some((iteration, loss)));
        if iteration >= self.max_t || (br.halves == 0 && iteration >= br.r) {
            self.remove(trial);
            return Action::Stop;
        }
        if iteration < br.r {
            return Action::Continue;
        }
        match self.process(b) {
            Some(good) if good.contains(&trial) => Action::Continue,
            Some(_) => Action::Stop,
            None => {
                if !self.paused.contains(&trial) {
                    self.paused.push(trial);
                }
                Action::Pause
            }
        }
    }

    fn on_trial_complete(&mut self, trial: usize) {
        self.remove(trial);
    }

    fn on_no_more_trials(&mut self) {
        self.no_more_trials = true;
        for b in 0..self.brackets.len() {
            self.process(b);
        }
    }

    fn choose_paused(&mut self) -> Option<usize> {
        self.to_unpause.pop_front()
    }

    fn take_stopped(&mut self) -> Vec<usize> {
        std::mem::take(&mut self.to_stop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::space::Params;

    fn add(h: &mut HyperBand, trials: std::ops::Range<usize>) {
        for t in trials {
            h.on_trial_add(t, &Params::new());
        }
    }

    #[test]
    fn bracket_sizes_follow_ray() {
        // Ray, max_t 81, eta 3: s_max_1 = round(log3(81)) + 1 = 5;
        // n0(s) = ceil(5 / (s + 1) * 3^s) = 5, 8, 15, 34, 81; r0(s) = 81 * 3^-s.
        let h = HyperBand::new(81, 3.0).unwrap();
        assert_eq!(h.brackets_per_band(), 5);
        let sizes: Vec<_> = (0..5).map(|s| h.bracket_size(s)).collect();
        assert_eq!(sizes, vec![(5, 81), (8, 27), (15, 9), (34, 3), (81, 1)]);
        // max_t 9, eta 3: 3 brackets of (3, 9), (5, 3), (9, 1).
        let h = HyperBand::new(9, 3.0).unwrap();
        let sizes: Vec<_> = (0..3).map(|s| h.bracket_size(s)).collect();
        assert_eq!(sizes, vec![(3, 9), (5, 3), (9, 1)]);
        assert!(HyperBand::new(9, 1.0)
            .unwrap_err()
            .to_string()
            .contains("reduction_factor"));
    }

    #[test]
    fn trials_fill_brackets_in_order_and_bands_repeat() {
        let mut h = HyperBand::new(9, 3.0).unwrap();
        add(&mut h, 0..18);
        // 3 trials to bracket 0, 5 to bracket 1, 9 to bracket 2, then a new band.
        let of: Vec<_> = (0..18).map(|t| h.bracket_of(t).unwrap()).collect();
        let mut expect = vec![0; 3];
        expect.extend([1; 5]);
        expect.extend([2; 9]);
        expect.push(3);
        assert_eq!(of, expect);
        assert_eq!(h.bracket_state(3).unwrap().0, 3); // s = 0 again
    }

    #[test]
    fn scripted_successive_halving_waits_for_the_whole_rung() {
        // max_t 9, eta 3. Trials 0-2 go to bracket 0 (no halving: 9 iterations),
        // trials 3-7 to bracket 1 (5 trials, milestones 3 then 9).
        let mut h = HyperBand::new(9, 3.0).unwrap();
        add(&mut h, 0..8);
        for t in 3..8 {
            for it in 1..3 {
                assert_eq!(h.on_result(t, it, 1.0), Action::Continue);
            }
        }
        // Losses at iteration 3: trial 3: 0.5, 4: 0.2, 5: 0.9, 6: 0.4; each one pauses
        // while others have not reached the milestone.
        assert_eq!(h.on_result(3, 3, 0.5), Action::Pause);
        assert_eq!(h.on_result(4, 3, 0.2), Action::Pause);
        assert_eq!(h.on_result(5, 3, 0.9), Action::Pause);
        assert_eq!(h.on_result(6, 3, 0.4), Action::Pause);
        assert_eq!(h.choose_paused(), None);
        assert!(h.take_stopped().is_empty());
        // The last one (0.3) completes the rung: keep ceil(5 / 3) = 2 of them, the best
        // two by loss: trials 4 (0.2) and 7 (0.3). Trial 7 continues at once; trial 4
        // is resumed; 3, 5 and 6 are stopped.
        assert_eq!(h.on_result(7, 3, 0.3), Action::Continue);
        assert_eq!(h.choose_paused(), Some(4));
        assert_eq!(h.choose_paused(), None);
        let mut stopped = h.take_stopped();
        stopped.sort_unstable();
        assert_eq!(stopped, vec![3, 5, 6]);
        let (n0, r, live) = h.bracket_state(1).unwrap();
        assert_eq!((n0, r, live), (5, 9, vec![4, 7]));
        // A stopped trial reporting again (it should not) is told to stop.
        assert_eq!(h.on_result(3, 4, 0.1), Action::Stop);
        // The survivors run to the last milestone (max_t) and stop there.
        assert_eq!(h.on_result(4, 4, 0.2), Action::Continue);
        assert_eq!(h.on_result(7, 8, 0.2), Action::Continue);
        assert_eq!(h.on_result(7, 9, 0.1), Action::Stop);
        assert_eq!(h.on_result(4, 9, 0.1), Action::Stop);
        // Bracket 0 never halves: its trials run to max_t.
        for it in 1..9 {
            assert_eq!(h.on_result(0, it, 1.0 / it as f64), Action::Continue);
        }
        assert_eq!(h.on_result(0, 9, 0.01), Action::Stop);
    }

    #[test]
    fn an_unfilled_bracket_is_cut_when_no_more_trials_come() {
        let mut h = HyperBand::new(9, 3.0).unwrap();
        add(&mut h, 0..6); // bracket 1 holds trials 3, 4, 5 of its 5
        assert_eq!(h.on_result(3, 3, 0.3), Action::Pause);
        assert_eq!(h.on_result(4, 3, 0.1), Action::Pause);
        assert_eq!(h.on_result(5, 3, 0.2), Action::Pause);
        // All live trials are at the milestone, but two more may join: wait.
        assert_eq!(h.choose_paused(), None);
        h.on_no_more_trials();
        // ceil(5 / 3) = 2 continue: trials 4 and 5; trial 3 stops.
        assert_eq!(h.choose_paused(), Some(4));
        assert_eq!(h.choose_paused(), Some(5));
        assert_eq!(h.take_stopped(), vec![3]);
    }

    #[test]
    fn a_trial_ending_early_unblocks_its_rung() {
        let mut h = HyperBand::new(9, 3.0).unwrap();
        add(&mut h, 0..8);
        for (t, loss) in [(3, 0.5), (4, 0.4), (5, 0.3), (6, 0.2)] {
            assert_eq!(h.on_result(t, 3, loss), Action::Pause);
        }
        // Trial 7 ends (completes or fails) before the milestone: the rung is complete.
        h.on_trial_complete(7);
        // Keep 2 of the 4 live ones, best first: 6 (0.2), 5 (0.3).
        assert_eq!(h.choose_paused(), Some(6));
        assert_eq!(h.choose_paused(), Some(5));
        let mut stopped = h.take_stopped();
        stopped.sort_unstable();
        assert_eq!(stopped, vec![3, 4]);
    }
}
