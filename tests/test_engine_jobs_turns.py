"""Training turns: jobs in one process step one at a time, round robin, and a Step goes first."""

import threading
import time

from engine.runtime import Job, RunningJobs, Trainer, TrainingTurns


class Counting(Trainer):
    """Each step holds the CPU for `config` seconds and records how many jobs were inside a step."""

    inside = 0
    most_inside = 0
    lock = threading.Lock()

    def setup(self):
        pass

    def train_step(self):
        cls = type(self)
        with cls.lock:
            cls.inside += 1
            cls.most_inside = max(cls.most_inside, cls.inside)
        end = time.perf_counter() + self.config
        while time.perf_counter() < end:
            pass
        with cls.lock:
            cls.inside -= 1
        return {"loss": 1.0}


def _jobs(n, turns, step_s=0.001):
    running = RunningJobs(100)
    return [Job(step_s, running_jobs=running, turns=turns, trainer_type=Counting) for _ in range(n)]


def test_one_job_steps_at_a_time_and_every_job_gets_its_turns(no_leaked_threads):
    turns = TrainingTurns(width=1)
    Counting.most_inside = 0
    jobs = _jobs(6, turns)
    try:
        for job in jobs:
            job.wait_applied(job.play())
        time.sleep(1.5)
        steps = [job.snapshot().step for job in jobs]
    finally:
        for job in jobs:
            job.stop()
    assert Counting.most_inside == 1
    # Round robin: each job had about a sixth of the time (a brute-force count of what a fair share is).
    total = sum(steps)
    assert min(steps) > 0.4 * total / len(jobs), steps
    assert turns.training() == 0


def test_width_two_lets_two_jobs_step_at_once(no_leaked_threads):
    turns = TrainingTurns(width=2)
    Counting.most_inside = 0
    jobs = _jobs(4, turns, step_s=0.005)
    try:
        for job in jobs:
            job.play()
        time.sleep(1.0)
    finally:
        for job in jobs:
            job.stop()
    assert Counting.most_inside == 2


def test_a_job_asking_first_overtakes_the_queue():
    turns = TrainingTurns(width=1)
    holder, queued, urgent = object(), object(), object()
    assert turns.take(holder, timeout=0)
    order = []
    waiter = threading.Thread(target=lambda: order.append(("queued", turns.take(queued, timeout=5))))
    waiter.start()
    time.sleep(0.1)  # `queued` is waiting in line
    assert not turns.take(urgent, timeout=0, first=True)  # no turn free; it keeps its place at the front
    turns.give_back(holder)
    assert turns.take(urgent, timeout=1)
    time.sleep(0.1)
    assert order == []  # `queued` still waits: the turn went to `urgent`
    turns.give_back(urgent)
    waiter.join(5)
    assert order == [("queued", True)]
    turns.give_back(queued)
    assert turns.training() == 0


def test_wake_ends_a_wait_for_a_turn_at_once_and_the_waiter_keeps_its_place():
    turns = TrainingTurns(width=1)
    holder, early, late = object(), object(), object()
    assert turns.take(holder, timeout=0)
    results = []
    waiter = threading.Thread(target=lambda: results.append((turns.take(early, timeout=5), time.monotonic())))
    waiter.start()
    time.sleep(0.1)  # `early` is waiting in line
    woken = time.monotonic()
    turns.wake(early)
    waiter.join(1)
    assert results and not results[0][0] and results[0][1] - woken < 0.1
    assert not turns.take(late, timeout=0)  # in line behind `early`
    turns.give_back(holder)
    assert not turns.take(late, timeout=0.1)
    assert turns.take(early, timeout=0)  # its place was kept: the turn is its
    turns.give_back(early)
    assert turns.take(late, timeout=0)
    turns.give_back(late)
    assert turns.take(holder, timeout=0)
    turns.wake(late)  # a job not in line: nothing to end, and its next wait is not cut short
    started = time.monotonic()
    assert not turns.take(late, timeout=0.2)
    assert time.monotonic() - started >= 0.19
    turns.give_back(late)
    turns.give_back(holder)
    assert turns.training() == 0


def test_asking_soon_again_and_again_cannot_keep_a_waiting_job_from_its_turn_past_the_longest_wait():
    turns = TrainingTurns(width=1, longest_wait_s=0.2)
    greedy, queued = object(), object()
    assert turns.take(greedy, timeout=0)
    served = []
    waiter = threading.Thread(target=lambda: served.append((turns.take(queued, timeout=5), time.monotonic())))
    waiter.start()
    time.sleep(0.05)  # `queued` is waiting in line
    asked = time.monotonic()
    while not served and time.monotonic() - asked < 3:  # e.g. a measuring thread, one slice after another
        turns.give_back(greedy)
        turns.take(greedy, timeout=0.05, soon=True)
        time.sleep(0.005)  # its slice
    waiter.join(5)
    assert served and served[0][0]
    assert served[0][1] - asked < 0.2 + 0.15  # overtaken only until it had waited the longest wait
    turns.give_back(queued)
    turns.give_back(greedy)


def test_a_page_waiting_for_visuals_is_answered_without_waiting_for_a_turn_among_many_jobs(no_leaked_threads):
    turns = TrainingTurns(width=1)
    busy = _jobs(30, turns, step_s=0.002)  # a round of turns takes 30 x 20 ms = 0.6 s
    watched = busy[0]
    try:
        for job in busy:
            job.wait_applied(job.play())
        time.sleep(1.0)
        waits = []
        for _ in range(20):
            asked = time.monotonic()
            watched.snapshot(fresh=True)
            waits.append(time.monotonic() - asked)
            time.sleep(0.1)
        assert max(waits) < 0.3, waits  # not a round of turns (0.6 s) cut at FRESH_WAIT_S (0.5 s)
        assert min(job.snapshot().step for job in busy) > 0  # and every job had its turns meanwhile
    finally:
        for job in busy:
            job.stop()


def test_a_step_pressed_while_others_train_is_done_promptly(no_leaked_threads):
    turns = TrainingTurns(width=1)
    busy = _jobs(8, turns, step_s=0.002)
    waiting = _jobs(1, turns)[0]
    try:
        for job in busy:
            job.wait_applied(job.play())
        time.sleep(0.3)
        ticket = waiting.step(3)
        snap = waiting.wait_for(lambda s: s.commands_applied >= ticket and not s.busy, timeout=2)
        assert snap.step == 3
        deadline = time.monotonic() + 5  # eight jobs take their turns one slice each: on a loaded machine > 0.3 s
        while min(job.snapshot().step for job in busy) == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert min(job.snapshot().step for job in busy) > 0  # and every busy job still gets its turns
    finally:
        for job in [*busy, waiting]:
            job.stop()


def test_pause_and_stop_are_applied_while_waiting_for_a_turn(no_leaked_threads):
    turns = TrainingTurns(width=1)
    (other,) = _jobs(1, turns, step_s=0.0)
    # Someone holds the only turn and does not give it back (not a job: an idle job's own thread
    # gives back a turn it does not use).
    hog = object()
    assert turns.take(hog, timeout=1)
    try:
        other.wait_applied(other.play())
        time.sleep(0.1)
        assert other.snapshot().step == 0
        asked = time.monotonic()
        other.wait_applied(other.pause(), timeout=1)
        assert time.monotonic() - asked < 0.2  # the command wakes its wait for a turn (a wait of up to 1 s)
        other.play()
        started = time.monotonic()
        other.stop(timeout=2)
        assert not other.alive and time.monotonic() - started < 0.2
    finally:
        turns.give_back(hog)
        other.stop()


def test_a_job_paused_while_waiting_for_its_turn_leaves_the_queue(no_leaked_threads):
    turns = TrainingTurns(width=1)
    holder = object()
    assert turns.take(holder, timeout=0)
    paused, other = _jobs(2, turns)
    try:
        paused.wait_applied(paused.play())
        time.sleep(0.15)  # it waits in line behind the holder
        paused.wait_applied(paused.pause())
        time.sleep(0.1)
        other.wait_applied(other.play())
        turns.give_back(holder)
        # The paused job would otherwise stay in line for good: once the others' turns brought it to the
        # front, no job would train again.
        first = other.wait_for(lambda s: s.step > 0, timeout=2).step
        time.sleep(0.5)
        assert other.snapshot().step > first + 10
        assert paused.snapshot().step == 0
    finally:
        turns.give_back(holder)
        paused.stop()
        other.stop()
