//! The sub-goal sequence of a closed-loop episode: which sub-goal latent the planner aims at,
//! when it moves on to the next (close enough, or out of patience), and when it should start
//! over from a fresh demonstration (the last sub-goal stalled, or a phase was lost).

/// The sub-goal sequence of an episode (see [`crate::closed_loop::LoopConfig::subgoals`]).
#[derive(Debug, Clone)]
pub(crate) struct Subgoals {
    /// Plan through sub-goals at all.
    pub(crate) enabled: bool,
    /// Next sub-goal once the distance is below this fraction of the phase's start distance.
    pub(crate) ratio: f32,
    /// Next sub-goal (or, at the last, a stall) after this many steps without a 2% gain; 0 = never.
    patience: usize,
    /// Best distance to the current sub-goal in this phase, and the steps since it improved.
    best: f32,
    stalled: usize,
    /// Latents of the sub-goals, in order.
    pub(crate) latents: Vec<Vec<f32>>,
    /// Current sub-goal.
    pub(crate) index: usize,
    /// Distance to the current sub-goal when its phase began; NaN until the first plan.
    start_distance: f32,
}

fn l2(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f32>()
        .sqrt()
}

impl Subgoals {
    /// No sub-goals yet; [`Subgoals::restart`] sets them.
    pub(crate) fn new(enabled: bool, ratio: f32, patience: usize) -> Self {
        Self {
            enabled,
            ratio,
            patience,
            best: f32::INFINITY,
            stalled: 0,
            latents: Vec::new(),
            index: 0,
            start_distance: f32::NAN,
        }
    }

    /// Plans toward `latents` from the first, as at an episode's start.
    pub(crate) fn restart(&mut self, latents: Vec<Vec<f32>>) {
        self.latents = latents;
        self.index = 0;
        self.start_distance = f32::NAN;
    }

    /// The current sub-goal has not improved for `patience` (> 0) steps.
    fn out_of_patience(&self) -> bool {
        self.patience > 0 && self.stalled >= self.patience
    }

    /// The last sub-goal has not improved for `patience` steps.
    fn stalled_at_end(&self) -> bool {
        self.index + 1 == self.latents.len() && self.out_of_patience()
    }

    /// The current phase, before the last, has run out of patience without its best distance
    /// ever getting below the distance between its sub-goal and the previous one.
    fn lost(&self) -> bool {
        self.index > 0
            && self.index + 1 < self.latents.len()
            && self.out_of_patience()
            && self.best >= self.start_distance
    }

    /// The planner should start over: the last sub-goal stalled, or a phase is lost and
    /// `hold_lost` (the planner can still start over from a lost phase).
    pub(crate) fn needs_restart(&self, hold_lost: bool) -> bool {
        self.stalled_at_end() || (hold_lost && self.lost())
    }

    /// Advances past every sub-goal that `z` is close enough to; returns the current goal latent.
    /// With `hold_lost`, a lost phase (see [`Subgoals::lost`]) is held for the planner to start
    /// over instead of moving on.
    pub(crate) fn update(&mut self, z: &[f32], hold_lost: bool) -> &[f32] {
        if self.start_distance.is_nan() {
            self.start_distance = l2(z, &self.latents[self.index]);
            self.best = f32::INFINITY;
            self.stalled = 0;
        }
        let d = l2(z, &self.latents[self.index]);
        if d < 0.98 * self.best {
            self.best = d;
            self.stalled = 0;
        } else {
            self.stalled += 1;
        }
        // A held lost phase waits for the planner's restart instead of moving on.
        let stuck = self.out_of_patience() && !(hold_lost && self.lost());
        if self.index + 1 < self.latents.len() && (stuck || d < self.ratio * self.start_distance) {
            self.index += 1;
            self.start_distance =
                l2(&self.latents[self.index - 1], &self.latents[self.index]).max(1e-6);
            self.best = l2(z, &self.latents[self.index]);
            self.stalled = 0;
            // Several sub-goals may already hold (e.g. open and closed gaps alike); skip them.
            while self.index + 1 < self.latents.len()
                && l2(z, &self.latents[self.index]) < self.ratio * self.start_distance
            {
                self.index += 1;
                self.start_distance =
                    l2(&self.latents[self.index - 1], &self.latents[self.index]).max(1e-6);
                self.best = l2(z, &self.latents[self.index]);
            }
        }
        &self.latents[self.index]
    }
}

#[cfg(test)]
mod tests {
    use super::Subgoals;

    fn subgoals(patience: usize) -> Subgoals {
        let mut s = Subgoals::new(true, 0.25, patience);
        s.restart(vec![vec![1.0, 0.0], vec![1.0, 1.0], vec![0.0, 1.0]]);
        s
    }

    #[test]
    fn sub_goals_advance_when_close_and_when_stalled() {
        let mut s = subgoals(0);
        assert_eq!(s.update(&[-1.0, 0.0], false), &[1.0, 0.0]);
        // Halfway: not close enough (2.0 at the start, ratio 0.25).
        s.update(&[0.0, 0.0], false);
        assert_eq!(s.index, 0);
        // Within 0.5 of the first: on to the second.
        assert_eq!(s.update(&[0.9, 0.0], false), &[1.0, 1.0]);
        // The last one is kept, however close.
        s.update(&[1.0, 1.0], false);
        s.update(&[0.0, 1.0], false);
        assert_eq!(s.index, 2);

        // Patience 3: no progress for 3 steps moves on.
        let mut s = subgoals(3);
        for _ in 0..3 {
            s.update(&[-1.0, 0.0], false);
            assert_eq!(s.index, 0);
        }
        s.update(&[-1.0, 0.0], false);
        assert_eq!(s.index, 1);
    }

    #[test]
    fn a_stalled_last_sub_goal_is_reported_and_a_restart_begins_again() {
        let mut s = subgoals(2);
        // Close to the first, then to the second: the ratio rule moves on to the last.
        s.update(&[-1.0, 0.0], false);
        s.update(&[0.9, 0.0], false);
        s.update(&[0.95, 1.0], false);
        assert_eq!(s.index, 2);
        assert!(!s.stalled_at_end());
        // Stuck away from the last one: stalled once patience runs out, not before.
        s.update(&[5.0, 5.0], false);
        assert!(!s.stalled_at_end());
        s.update(&[5.0, 5.0], false);
        assert!(s.stalled_at_end());
        // A restart with new sub-goals plans toward the first of them.
        s.restart(vec![vec![4.0, 4.0], vec![0.0, 0.0]]);
        assert_eq!(s.index, 0);
        assert!(!s.stalled_at_end());
        assert_eq!(s.update(&[5.0, 5.0], false), &[4.0, 4.0]);
    }

    #[test]
    fn a_lost_phase_is_held_for_a_restart_only_when_asked() {
        // Sub-goals (1,0) -> (1,1) -> (0,1): the second phase begins 1.0 from its sub-goal.
        let lose = |s: &mut Subgoals, hold: bool| {
            s.update(&[-1.0, 0.0], hold);
            s.update(&[0.9, 0.0], hold);
            assert_eq!(s.index, 1);
            // Dropped far away: never closer than 1.0 to (1,1).
            for _ in 0..3 {
                s.update(&[5.0, -5.0], hold);
            }
        };
        let mut s = subgoals(2);
        lose(&mut s, false);
        // Without holding, patience moves on to the last sub-goal as before.
        assert_eq!(s.index, 2);
        assert!(!s.needs_restart(false));

        let mut s = subgoals(2);
        lose(&mut s, true);
        assert_eq!(s.index, 1);
        assert!(s.lost() && s.needs_restart(true));
        // The same lost phase is no reason to start over when it may not be held.
        assert!(!s.needs_restart(false));

        // A phase that made progress (best 0.5 < 1.0) and then stalled is not lost: it moves on.
        let mut s = subgoals(2);
        s.update(&[-1.0, 0.0], true);
        s.update(&[0.9, 0.0], true);
        s.update(&[1.0, 0.5], true);
        for _ in 0..3 {
            s.update(&[1.0, 0.5], true);
        }
        assert_eq!(s.index, 2);
        assert!(!s.needs_restart(true));
    }
}
