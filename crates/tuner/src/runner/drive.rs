//! How a run drives its trials: replaying a resumed store, the thread pools, picking
//! the next trial, running one trial (retries, pauses, failures) and wrapping up.

use super::{finish, summarize, Inner, Outcome, Shared, Summary, TrialContext, TuneConfig};
use crate::error::{Error, Result, TrialError};
use crate::scheduler::{Action, Scheduler};
use crate::search::Searcher;
use crate::store::{Store, TrialRecord, TrialStatus};
use rayon::ThreadPool;
use std::collections::{HashMap, VecDeque};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::Instant;

/// Replay a resumed store's history so that the searcher and the scheduler resume where
/// they were: trials in creation order, then their results iteration by iteration (the
/// order a synchronous scheduler saw them in), each finished trial completing after its
/// last result. Unfinished trials the scheduler stopped are recorded as stopped; those
/// it paused at their checkpoint stay paused. Returns the trials to restart from their
/// checkpoints.
pub(super) fn replay(
    store: &mut Store,
    config: &TuneConfig,
    searcher: &mut dyn Searcher,
    scheduler: &mut dyn Scheduler,
) -> Result<VecDeque<usize>> {
    let mut queue: VecDeque<usize> = VecDeque::new();
    let mut events: Vec<(usize, usize, Option<f64>)> = Vec::new();
    for t in &store.state().trials {
        scheduler.on_trial_add(t.id, &t.params);
        for r in &t.history {
            let loss = r.metrics.get(&config.metric).map(|v| config.loss(*v));
            events.push((r.iteration, t.id, loss));
        }
        if t.status.is_finished() {
            searcher.observe(t.id, &t.params, t.metric.map(|m| config.loss(m)));
        }
    }
    events.sort_by_key(|e| (e.0, e.1));
    let mut last_event: HashMap<usize, usize> = HashMap::new();
    for (i, e) in events.iter().enumerate() {
        last_event.insert(e.1, i);
    }
    // The scheduler's last answer to each unfinished trial.
    let mut last_action: HashMap<usize, Action> = HashMap::new();
    for (i, (iteration, id, loss)) in events.iter().enumerate() {
        if let Some(l) = loss {
            let action = scheduler.on_result(*id, *iteration, *l);
            last_action.insert(*id, action);
        }
        let finished = store.trial(*id).is_some_and(|t| t.status.is_finished());
        if finished && last_event.get(id) == Some(&i) {
            scheduler.on_trial_complete(*id);
        }
    }
    for t in &store.state().trials {
        if t.history.is_empty() && t.status.is_finished() {
            scheduler.on_trial_complete(t.id);
        }
    }
    // Unfinished trials: paused where the scheduler paused them at their checkpoint,
    // stopped where it stopped them, otherwise restarted from their checkpoints.
    let unfinished: Vec<TrialRecord> = store
        .state()
        .trials
        .iter()
        .filter(|t| !t.status.is_finished())
        .cloned()
        .collect();
    let mut stopped: Vec<usize> = scheduler.take_stopped();
    for mut rec in unfinished {
        let at_checkpoint = rec
            .checkpoint
            .as_ref()
            .is_some_and(|c| c.iteration == rec.iterations());
        match last_action.get(&rec.id) {
            Some(Action::Stop) => stopped.push(rec.id),
            Some(Action::Pause) if at_checkpoint => {
                if rec.status != TrialStatus::Paused {
                    rec.status = TrialStatus::Paused;
                    store.put(rec)?;
                }
            }
            _ if rec.status == TrialStatus::Paused && !stopped.contains(&rec.id) => {
                // Handed back (or to be) by the scheduler.
            }
            _ => queue.push_back(rec.id),
        }
    }
    for id in stopped {
        if let Some(mut rec) = store.trial(id).cloned() {
            if !rec.status.is_finished() {
                rec.status = TrialStatus::Stopped;
                rec.stop_reason = Some("scheduler".into());
                scheduler.on_trial_complete(id);
                searcher.observe(id, &rec.params, rec.metric.map(|m| config.loss(m)));
                store.put(rec)?;
            }
        }
    }
    // Trials stopped by the completions just told.
    for id in scheduler.take_stopped() {
        if let Some(mut rec) = store.trial(id).cloned() {
            if !rec.status.is_finished() {
                rec.status = TrialStatus::Stopped;
                rec.stop_reason = Some("scheduler".into());
                searcher.observe(id, &rec.params, rec.metric.map(|m| config.loss(m)));
                store.put(rec)?;
                queue.retain(|q| *q != id);
            }
        }
    }
    Ok(queue)
}

/// The thread pools of a run: one work pool of `threads` threads for each concurrent
/// trial (a trial's numerical work runs on its own pool, so trials never steal each
/// other's cores).
pub(super) struct Pools {
    pub(super) work: Vec<Arc<ThreadPool>>,
    pub(super) threads: usize,
}

impl Pools {
    pub(super) fn new(config: &TuneConfig) -> Result<Pools> {
        let threads = config.threads_per_trial.unwrap_or_else(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            (cores / config.max_concurrent).max(1)
        });
        let build = |n: usize, what: &str| {
            rayon::ThreadPoolBuilder::new()
                .num_threads(n)
                .thread_name({
                    let what = what.to_string();
                    move |i| format!("tune-{what}-{i}")
                })
                .build()
                .map_err(|e| Error::config("tune.max_concurrent", e.to_string()))
        };
        Ok(Pools {
            work: (0..config.max_concurrent)
                .map(|_| build(threads, "work").map(Arc::new))
                .collect::<Result<_>>()?,
            threads,
        })
    }
}

/// Which trial runs next: the queue of trials to restart, paused trials the scheduler
/// handed back, then new trials from the searcher.
struct Next {
    queue: VecDeque<usize>,
    /// Paused trials handed back by the scheduler whose objective has not yet returned
    /// from the pause.
    unpaused: VecDeque<usize>,
    /// The searcher (or the trial budget) has no more trials.
    exhausted: bool,
    /// Paused trials the scheduler does not know of were queued once.
    rescued: bool,
}

impl Next {
    /// The next trial to start (under the lock), if any; `running` trials run now.
    fn pick(&mut self, inner: &mut Inner, config: &TuneConfig, running: usize) -> Option<usize> {
        let is_paused = |inner: &Inner, id: usize| {
            inner
                .store
                .trial(id)
                .is_some_and(|t| t.status == TrialStatus::Paused)
        };
        let mut next = None;
        if let Some(i) = self.unpaused.iter().position(|id| is_paused(inner, *id)) {
            next = self.unpaused.remove(i);
        }
        if next.is_none() {
            next = self.queue.pop_front();
        }
        while next.is_none() {
            match inner.scheduler.choose_paused() {
                Some(id) if is_paused(inner, id) => next = Some(id),
                Some(id) => {
                    let finished = inner.store.trial(id).is_none_or(|t| t.status.is_finished());
                    if !finished {
                        self.unpaused.push_back(id);
                    }
                }
                None => break,
            }
        }
        if next.is_none() && !self.exhausted {
            let id = inner.store.state().trials.len();
            let capped = config.max_trials.is_some_and(|m| id >= m);
            match (!capped).then(|| inner.searcher.suggest(id)).flatten() {
                Some(params) => {
                    // The scheduler hears of the trial now, under the lock that created
                    // it, not when its thread starts: otherwise a cut decided before then
                    // (e.g. by `on_no_more_trials` for the next free slot) would leave it
                    // out of the bracket it was made for.
                    inner.scheduler.on_trial_add(id, &params);
                    inner.put(TrialRecord::new(id, params));
                    next = Some(id);
                }
                None => {
                    self.exhausted = true;
                    inner.scheduler.on_no_more_trials();
                    inner.drain_stops(config);
                    next = inner.scheduler.choose_paused();
                }
            }
        }
        if next.is_none() && running == 0 && self.unpaused.is_empty() && !self.rescued {
            // Nothing runs and the scheduler hands nothing back: trials it does not know
            // as paused (a resume under another scheduler) restart from their
            // checkpoints.
            self.rescued = true;
            self.queue.extend(
                inner
                    .store
                    .state()
                    .trials
                    .iter()
                    .filter(|t| t.status == TrialStatus::Paused)
                    .map(|t| t.id),
            );
            next = self.queue.pop_front();
        }
        next
    }
}

/// What the slots share: which trial is next, and how many run.
struct Slots {
    next: Next,
    running: usize,
    /// No trial runs and none can start: every slot stops.
    done: bool,
}

fn lock_slots(m: &Mutex<Slots>) -> MutexGuard<'_, Slots> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Counts a running trial out, and wakes the waiting slots, when its slot is done with
/// it (also when unwinding, so that no slot waits for a trial that will never end).
struct Running<'a> {
    slots: &'a Mutex<Slots>,
    changed: &'a Condvar,
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        lock_slots(self.slots).running -= 1;
        self.changed.notify_all();
    }
}

/// Run trials while slots are free and the budget lasts; return when none runs and
/// none can start. Each slot is a thread inside its own work pool that picks its next
/// trial itself as soon as its last one ends, so that short trials cost no hand-over
/// between threads.
pub(super) fn dispatch<F>(shared: &Shared, pools: Pools, queue: VecDeque<usize>, objective: &F)
where
    F: Fn(&mut TrialContext<'_>) -> std::result::Result<(), TrialError> + Sync,
{
    let Pools { work, threads } = pools;
    let slots = Mutex::new(Slots {
        next: Next {
            queue,
            unpaused: VecDeque::new(),
            exhausted: false,
            rescued: false,
        },
        running: 0,
        done: false,
    });
    let changed = Condvar::new();
    let (slots, changed) = (&slots, &changed);
    let Some((last, others)) = work.split_last() else {
        return;
    };
    std::thread::scope(|scope| {
        for (i, pool) in others.iter().enumerate() {
            let started = std::thread::Builder::new()
                .name(format!("tune-trial-{i}"))
                .spawn_scoped(scope, move || {
                    pool.install(|| slot(shared, slots, changed, pool, threads, objective))
                });
            // A slot whose thread cannot start leaves its trials to the others.
            drop(started);
        }
        last.install(|| slot(shared, slots, changed, last, threads, objective));
    });
}

/// One slot: pick a trial, run it, repeat; wait while others run and none can start.
fn slot<F>(
    shared: &Shared,
    slots: &Mutex<Slots>,
    changed: &Condvar,
    pool: &ThreadPool,
    threads: usize,
    objective: &F,
) where
    F: Fn(&mut TrialContext<'_>) -> std::result::Result<(), TrialError> + Sync,
{
    let config = &shared.config;
    loop {
        let id = {
            let mut s = lock_slots(slots);
            loop {
                if s.done {
                    return;
                }
                if shared.lock().error.is_some() {
                    // The store cannot be written: finish the running trials, start none.
                    s.next.exhausted = true;
                    s.next.queue.clear();
                }
                let picked = if s.running < config.max_concurrent && !shared.over_budget() {
                    let running = s.running;
                    s.next.pick(&mut shared.lock(), config, running)
                } else {
                    None
                };
                if let Some(id) = picked {
                    s.running += 1;
                    break id;
                }
                if s.running == 0 {
                    s.done = true;
                    changed.notify_all();
                    return;
                }
                s = changed.wait(s).unwrap_or_else(|p| p.into_inner());
            }
        };
        let _running = Running { slots, changed };
        run_trial(shared, id, pool, threads, objective);
    }
}

/// After the last trial returned: trials paused when the time budget ran out are
/// stopped, the store is marked finished when every trial is, and the observers hear
/// the summary.
pub(super) fn wrap_up(shared: Shared) -> Result<(Summary, Store)> {
    let over_budget = shared.over_budget();
    let Shared {
        inner,
        config,
        started,
    } = shared;
    let mut inner = inner.into_inner().unwrap_or_else(|p| p.into_inner());
    if let Some(e) = inner.error.take() {
        return Err(e);
    }
    if over_budget {
        let paused: Vec<TrialRecord> = inner
            .store
            .state()
            .trials
            .iter()
            .filter(|t| t.status == TrialStatus::Paused)
            .cloned()
            .collect();
        for mut rec in paused {
            rec.status = TrialStatus::Stopped;
            rec.stop_reason = Some("time budget".into());
            finish(&mut inner, rec, &config);
        }
        if let Some(e) = inner.error.take() {
            return Err(e);
        }
    }
    let all_done = inner
        .store
        .state()
        .trials
        .iter()
        .all(|t| t.status.is_finished());
    inner.store.set_finished(all_done)?;
    let summary = summarize(&inner.store, &config, started.elapsed().as_secs_f64());
    for o in inner.observers.iter_mut() {
        o.experiment_finished(&summary);
    }
    Ok((summary, inner.store))
}

pub(super) fn panic_message(p: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = p.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = p.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

fn run_trial<F>(shared: &Shared, id: usize, pool: &ThreadPool, threads: usize, objective: &F)
where
    F: Fn(&mut TrialContext<'_>) -> std::result::Result<(), TrialError> + Sync,
{
    loop {
        // Start (or restart) under the lock: status, start count, checkpoint.
        let (params, checkpoint, iteration) = {
            let mut g = shared.lock();
            let inner = &mut *g;
            let Some(mut rec) = inner.store.trial(id).cloned() else {
                return;
            };
            rec.status = TrialStatus::Running;
            rec.starts += 1;
            let ckpt = match &rec.checkpoint {
                Some(r) => match inner.store.load_checkpoint(r) {
                    Ok(b) => Some((b, r.iteration)),
                    Err(e) => {
                        inner.error.get_or_insert(e);
                        None
                    }
                },
                None => None,
            };
            // Results after the checkpoint will be reported again.
            let from = ckpt.as_ref().map_or(0, |c| c.1);
            rec.history.retain(|r| r.iteration <= from);
            inner.scheduler.on_trial_add(id, &rec.params);
            let params = rec.params.clone();
            // Observers hear of an event only once the store holds it.
            inner.put(rec.clone());
            for o in inner.observers.iter_mut() {
                o.trial_started(&rec);
            }
            let (bytes, it) = ckpt.map_or((None, 0), |(b, i)| (Some(b), i));
            (params, bytes, it)
        };
        let mut ctx = TrialContext {
            id,
            params,
            checkpoint,
            iteration,
            threads,
            sink: shared,
            started: Instant::now(),
            outcome: Outcome::Running,
        };
        let result = pool.install(|| catch_unwind(AssertUnwindSafe(|| objective(&mut ctx))));
        let error = match result {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(p) => Some(format!("panicked: {}", panic_message(p.as_ref()))),
        };
        let mut g = shared.lock();
        let inner = &mut *g;
        let Some(mut rec) = inner.store.trial(id).cloned() else {
            return;
        };
        rec.seconds += ctx.started.elapsed().as_secs_f64();
        match (error, ctx.outcome) {
            (None, Outcome::Restart) => {
                inner.put(rec);
                continue;
            }
            (None, Outcome::Paused) => {
                if inner.stop_when_paused.remove(&id) {
                    rec.status = TrialStatus::Stopped;
                    rec.stop_reason = Some("scheduler".into());
                    finish(inner, rec, &shared.config);
                } else {
                    rec.status = TrialStatus::Paused;
                    inner.put(rec);
                }
                return;
            }
            (None, Outcome::Abandoned) => return,
            (None, outcome) => {
                rec.status = if outcome == Outcome::Stopped {
                    TrialStatus::Stopped
                } else {
                    TrialStatus::Completed
                };
                finish(inner, rec, &shared.config);
                return;
            }
            (Some(msg), _) => {
                rec.failures += 1;
                rec.error = Some(msg.clone());
                if rec.failures <= shared.config.max_failures && !shared.over_budget() {
                    inner.put(rec);
                    continue;
                }
                rec.status = TrialStatus::Failed;
                inner.scheduler.on_trial_complete(id);
                inner.searcher.observe(id, &rec.params, None);
                inner.put(rec.clone());
                for o in inner.observers.iter_mut() {
                    o.trial_failed(&rec, &msg);
                }
                inner.drain_stops(&shared.config);
                return;
            }
        }
    }
}
